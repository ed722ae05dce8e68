// The audit log of the environment, newest first: filtered on the server by
// app, action, actor and org, paged with the API's before and limit, each
// actor by name. The filters and the page are kept in the hash's query
// (#/audit?actor=…&org=…), so that a reload, Back or a shared link keeps
// them; an actor or an org in the table links to its events.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, type Answer, type Schemas } from '../api'
import { go, hashQuery } from '../router'
import { ErrorBox, Field, SelectField, fmtTime, fmtTimesIn, useLoad } from '../parts'

const pageSize = 50

/** The filters the hash's query holds, by their API name. */
const filterNames = ['app', 'action', 'actor', 'org'] as const
type Filters = Record<typeof filterNames[number], string>
const noFilters: Filters = { app: '', action: '', actor: '', org: '' }

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

/** auditHash is the hash of the audit log with these filters, at the page under before (0: the newest). */
function auditHash(f: Filters, before = 0, stack: number[] = []): string {
  const q = new URLSearchParams()
  for (const n of filterNames) if (f[n]) q.set(n, f[n])
  if (before) q.set('before', String(before))
  if (stack.length) q.set('prev', stack.join(','))
  const s = q.toString()
  return 'audit' + (s ? '?' + s : '')
}

export function Audit() {
  const query = hashQuery()
  const filters = Object.fromEntries(filterNames.map(n => [n, query.get(n) ?? ''])) as Filters
  // before is the id the page starts under; prev holds the pages above (0 for the newest), for "Newer".
  const before = Number(query.get('before')) || 0
  const stack = (query.get('prev') ?? '').split(',').filter(Boolean).map(Number)
  const [form, setForm] = useState<Filters>(filters)
  const filterKey = JSON.stringify(filters)
  useEffect(() => setForm(filters), [filterKey])

  const params = new URLSearchParams({ limit: String(pageSize) })
  for (const n of filterNames) if (filters[n]) params.set(n, filters[n])
  if (before) params.set('before', String(before))
  const [data, err] = useLoad(() => api<Answer<'/audit', 'get'>>('GET', '/audit?' + params.toString()), [params.toString()])
  const [keys] = useLoad(() => api<Answer<'/apikeys', 'get'>>('GET', '/apikeys'), [])
  const byID = new Map((keys?.api_keys ?? []).map(k => [k.id, k]))
  const [admins, adminsErr] = useLoad(() => api<Answer<'/admins', 'get'>>('GET', '/admins'), [])
  // The actor filter picks by name; the server filters by the actor's id.
  const actors: [string, string][] = [['', 'anyone'],
    ...(admins?.admins ?? []).map(a => ['admin:' + a.email, 'admin ' + a.email] as [string, string]),
    ...(keys?.api_keys ?? []).map(k => [k.id, actorName(k.id, byID)] as [string, string]),
    ['latchkey', 'Latchkey'], ['cli', 'the CLI'], ['browser', 'a browser']]
  if (form.actor && !actors.some(a => a[0] === form.actor)) actors.push([form.actor, actorName(form.actor, byID)])
  // A refused filter (400 naming it) is shown beside its field.
  const fieldErr = (n: keyof Filters) => err instanceof APIError ? err.fieldError(n) : undefined
  const shownErr = err instanceof APIError && filterNames.some(n => err.fieldError(n)) ? undefined : err

  const apply = (e: Event) => { e.preventDefault(); go(auditHash(form)) }
  const set = (n: keyof Filters) => (v: string) => setForm({ ...form, [n]: v })
  const older = () => { if (!data?.events.length) return; go(auditHash(filters, data.events[data.events.length - 1].id ?? 0, [...stack, before])) }
  const newer = () => go(auditHash(filters, stack[stack.length - 1] ?? 0, stack.slice(0, -1)))
  const filtered = filterNames.some(n => filters[n])
  return <>
    <h1>Audit log</h1>
    <form class="audit-filters" onSubmit={apply} aria-label="Filter the audit log">
      <Field id="audit-app" label="App" value={form.app} onInput={set('app')} error={fieldErr('app')} />
      <Field id="audit-action" label="Action" value={form.action} onInput={set('action')} hint="An exact action, such as app.put." error={fieldErr('action')} />
      <SelectField id="audit-actor" label="Actor" value={form.actor} options={actors} onChange={set('actor')} hint="An admin, an API key, Latchkey itself…" error={fieldErr('actor')} />
      <Field id="audit-org" label="Org" value={form.org} onInput={set('org')} hint="Exactly this org." error={fieldErr('org')} />
      <div class="audit-actions">
        <button class="primary" type="submit">Filter</button>
        <button type="button" onClick={() => go(auditHash(noFilters))}>Clear</button>
      </div>
    </form>
    <ErrorBox err={shownErr} />
    <ErrorBox err={adminsErr} />
    {data && (data.events.length === 0 ? <p id="audit-none">No events{filtered ? ' match these filters' : ''}.</p> :
      <table class="audit" tabIndex={0} aria-label="Audit events"><thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">App</th><th scope="col">Org</th><th scope="col">User</th><th scope="col">Config</th><th scope="col">Detail</th></tr></thead>
        <tbody>{data.events.map(e => {
          const name = actorName(e.actor, byID)
          return <tr data-event={e.id}><td>{fmtTime(e.time)}</td>
            <td class="actor" title={e.actor}>{e.actor === filters.actor ? name : <a href={'#/' + auditHash({ ...filters, actor: e.actor })}>{name}</a>}{name !== e.actor && <> <code class="hint">{e.actor}</code></>}</td>
            <td>{e.action}</td><td>{e.app}</td>
            <td>{e.org && e.org !== filters.org ? <a href={'#/' + auditHash({ ...filters, org: e.org })}>{e.org}</a> : e.org}</td>
            <td>{e.user}</td><td>{e.config}</td><td>{fmtTimesIn(e.detail)}</td></tr>
        })}</tbody></table>)}
    <nav aria-label="Audit pages" class="pager">
      <button type="button" id="audit-newer" disabled={!before} onClick={newer}>Newer</button>{' '}
      <button type="button" id="audit-older" disabled={!data || data.events.length < pageSize} onClick={older}>Older</button>
    </nav>
  </>
}
