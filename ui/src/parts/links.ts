// The hashes of screens other screens link to.
import { enc } from '../api'

/** connectionHref is the hash of a connection's page: #/connections/{app}/{org}/{user}/{config}, without the user for an org's own. */
export function connectionHref(c: { app: string; org: string; user?: string; config: string }) {
  return `#/connections/${enc(c.app)}/${enc(c.org)}/` + (c.user ? `${enc(c.user)}/` : '') + enc(c.config)
}
