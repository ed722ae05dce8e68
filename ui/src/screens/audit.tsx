// The audit log of the environment, newest first: filtered by app and
// action, paged with the API's before and limit, each actor by name.
import { useState } from 'preact/hooks'
import { api, enc, type Answer, type Schemas } from '../api'
import { ErrorBox, Field, fmtTime, fmtTimesIn, useLoad } from '../parts'

const pageSize = 50

/**
 * actorName names an audit actor. The actor is an id: "admin:<email>" for
 * a signed-in admin, an API key's id, "latchkey" for what Latchkey does on
 * its own, "install-link:<id>", "oauth:<client>" or "browser". Keys are
 * named from the key list (resolved here, in the UI); the raw id stays
 * available as the title and in the cell's code.
 */
function actorName(actor: string, keys: Map<string, Schemas['APIKey']>): string {
  if (actor.startsWith('admin:')) return 'admin ' + actor.slice(6)
  if (actor === 'latchkey') return 'Latchkey'
  if (actor.startsWith('install-link:')) return 'install link ' + actor.slice(13)
  if (actor.startsWith('oauth:')) return 'OAuth client ' + actor.slice(6)
  if (actor === 'browser') return 'a browser'
  const k = keys.get(actor)
  if (k) return `key ${k.name || k.id} (${k.scope}${k.app ? ' ' + k.app : ''})`
  return actor
}

export function Audit() {
  const [app, setApp] = useState('')
  const [action, setAction] = useState('')
  // before is the id the page starts under; the stack holds the pages above, for "newer".
  const [before, setBefore] = useState(0)
  const [stack, setStack] = useState<number[]>([])
  const q = `/audit?limit=${pageSize}` + (app ? '&app=' + enc(app) : '') + (action ? '&action=' + enc(action) : '') + (before ? '&before=' + before : '')
  const [data, err] = useLoad(() => api<Answer<'/audit', 'get'>>('GET', q), [q])
  const [keys] = useLoad(() => api<Answer<'/apikeys', 'get'>>('GET', '/apikeys'), [])
  const byID = new Map((keys?.api_keys ?? []).map(k => [k.id, k]))
  const filter = (set: (v: string) => void) => (v: string) => { set(v); setBefore(0); setStack([]) }
  const older = () => { if (!data?.events.length) return; setStack([...stack, before]); setBefore(data.events[data.events.length - 1].id ?? 0) }
  const newer = () => { setBefore(stack[stack.length - 1] ?? 0); setStack(stack.slice(0, -1)) }
  return <>
    <h1>Audit log</h1>
    <div class="inline audit-filters">
      <Field id="audit-app" label="App" value={app} onInput={filter(setApp)} />
      <Field id="audit-action" label="Action" value={action} onInput={filter(setAction)} hint="An exact action, such as app.put." />
    </div>
    <ErrorBox err={err} />
    {data && (data.events.length === 0 ? <p>No events{app || action ? ' match these filters' : ''}.</p> :
      <table class="audit" tabIndex={0} aria-label="Audit events"><thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">App</th><th scope="col">Org</th><th scope="col">User</th><th scope="col">Config</th><th scope="col">Detail</th></tr></thead>
        <tbody>{data.events.map(e => {
          const name = actorName(e.actor, byID)
          return <tr data-event={e.id}><td>{fmtTime(e.time)}</td>
            <td class="actor" title={e.actor}>{name}{name !== e.actor && <> <code class="hint">{e.actor}</code></>}</td>
            <td>{e.action}</td><td>{e.app}</td><td>{e.org}</td><td>{e.user}</td><td>{e.config}</td><td>{fmtTimesIn(e.detail)}</td></tr>
        })}</tbody></table>)}
    <nav aria-label="Audit pages" class="pager">
      <button type="button" id="audit-newer" disabled={!before} onClick={newer}>Newer</button>{' '}
      <button type="button" id="audit-older" disabled={!data || data.events.length < pageSize} onClick={older}>Older</button>
    </nav>
  </>
}
