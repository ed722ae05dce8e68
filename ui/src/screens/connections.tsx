// The connections of an app: status, expiry, a forced refresh, disconnect.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { ErrorBox, Field, fmtTime, useLoad } from '../parts'

export function Connections({ name }: { name: string }) {
  const [org, setOrg] = useState('')
  const [data, err, reload] = useLoad(() => api<Answer<'/apps/{app}/connections', 'get'>>('GET', `/apps/${enc(name)}/connections` + (org ? '?org=' + enc(org) : '')), [name, org])
  const [msg, setMsg] = useState('')
  const [actErr, setActErr] = useState<APIError>()
  const path = (c: any) => c.user ? `/apps/${enc(name)}/orgs/${enc(c.org)}/users/${enc(c.user)}/connections/${enc(c.config)}` : `/apps/${enc(name)}/orgs/${enc(c.org)}/connections/${enc(c.config)}`
  const refresh = async (c: any) => {
    setActErr(undefined); setMsg('')
    // The refresh route refreshes whether or not the token is due and
    // answers the connection without its token: none reaches the browser.
    try {
      const r = await api<Schemas['Connection']>('POST', path(c) + '/refresh')
      setMsg(`${c.user || c.org}/${c.config}: refreshed ${fmtTime(r.refreshed_at)}; ${r.status}, expires ${fmtTime(r.expires_at)}`); reload()
    } catch (x) { setActErr(x as APIError); reload() }
  }
  const disconnect = async (c: any) => {
    if (!confirm(`Disconnect ${c.user || c.org} from ${c.config}?`)) return
    try { await api('DELETE', path(c)); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <>
    <h1>Connections of {name}</h1>
    <p><a href={'#/apps/' + enc(name)}>Back to the app</a></p>
    <Field id="conn-org" label="Filter by org" value={org} onInput={setOrg} />
    <ErrorBox err={err || actErr} />
    {msg && <p class="ok" role="status">{msg}</p>}
    {data && (data.connections.length === 0 ? <p>No connection yet.</p> :
      <table><thead><tr><th scope="col">Org</th><th scope="col">User</th><th scope="col">Config</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Last refresh</th><th scope="col">Last error</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.connections.map(c => <tr><td>{c.org}</td><td>{c.user || '(org)'}</td><td>{c.config}</td>
          <td><span class={'status status-' + c.status}>{c.status}</span></td><td>{fmtTime(c.expires_at)}</td><td>{fmtTime(c.refreshed_at)}</td><td>{c.last_error || '—'}</td>
          <td><button type="button" class="link" onClick={() => refresh(c)}>Refresh now</button> <button type="button" class="link danger" onClick={() => disconnect(c)}>Disconnect</button></td></tr>)}</tbody></table>)}
  </>
}
