// The hash names the screen (#/apps/my-app/orgs). A screen with unsaved
// edits sets a leave guard; a move to another screen, or to another
// environment, asks it first and stays when it says no.
import { useEffect, useState } from 'preact/hooks'

let leaveGuard: (() => boolean) | undefined

/** guardLeave sets (or, without ask, clears) the question asked before leaving the screen. */
export function guardLeave(ask?: () => boolean) { leaveGuard = ask }

/** mayLeave asks the leave guard, if there is one, and reports whether the screen may be left. */
export function mayLeave(): boolean { return !leaveGuard || leaveGuard() }

/** useRoute is the current hash split into its decoded parts. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    let current = location.hash
    const on = () => {
      if (location.hash !== current && !mayLeave()) {
        history.replaceState(null, '', current || '#/')
        return
      }
      current = location.hash
      setHash(current)
    }
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  // The query after ? (a screen's filters) is not part of the route: hashQuery reads it.
  return hash.replace(/^#\/?/, '').replace(/\?.*$/, '').split('/').filter(Boolean).map(decodeURIComponent)
}

/**
 * hashQuery is the query of the hash (#/connections?status=active): a
 * screen's filters, kept in the address so that a reload or a shared link
 * keeps them. Paths encode a ? inside a name, so the first ? starts it.
 */
export function hashQuery(): URLSearchParams {
  const i = location.hash.indexOf('?')
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1))
}

/** go moves to the screen at path (without the leading #/). */
export const go = (path: string) => { location.hash = '#/' + path }
