// Every connection of the environment, across apps: search by org and
// user, filters for app, config and status, the total, and pages over the
// server's keyset cursors. The filters and the cursors are kept in the
// hash's query, so that a reload, Back or a shared link keeps them.
import { useEffect, useState } from 'preact/hooks'
import { api, enc, type Answer, type Schemas } from '../api'
import { go, hashQuery } from '../router'
import { connectionHref, ErrorBox, Field, fmtTime, SelectField, useLoad } from '../parts'

type Page = Answer<'/connections', 'get'>
type Conn = Schemas['Connection']

/** pageSize is the rows of one page (the API's default). */
const pageSize = 50

const statuses: [string, string][] = [['', 'Any status'], ['active', 'active'], ['expired', 'expired'], ['needs_reauth', 'needs re-authorization'], ['refresh_failed', 'refresh failed']]

/** The filters the hash's query holds, by their API name. */
const filterNames = ['app', 'config', 'status', 'org', 'user', 'q'] as const
type Filters = Record<typeof filterNames[number], string>

/** Connections is the list across apps; app presets (and fixes) the app filter (#/apps/{app}/connections). */
export function Connections({ app }: { app?: string }) {
  const query = hashQuery()
  const filters = Object.fromEntries(filterNames.map(n => [n, query.get(n) ?? ''])) as Filters
  if (app) filters.app = app
  const after = query.get('after') ?? ''
  // The cursors of the pages before this one, first page first ('' is the first page).
  const prev = query.get('prev') ? query.get('prev')!.split(',').map(c => c === '-' ? '' : c) : []
  const base = app ? `apps/${enc(app)}/connections` : 'connections'
  const [form, setForm] = useState<Filters>(filters)
  const filterKey = JSON.stringify(filters)
  useEffect(() => setForm(filters), [filterKey])

  const params = new URLSearchParams()
  for (const n of filterNames) if (filters[n]) params.set(n, filters[n])
  params.set('limit', String(pageSize))
  if (after) params.set('after', after)
  const [data, err] = useLoad(() => api<Page>('GET', '/connections?' + params.toString()), [params.toString()])
  const [apps] = useLoad(() => api<Answer<'/apps', 'get'>>('GET', '/apps'), [])

  // move writes the filters and the page into the hash: the list follows it.
  const move = (f: Filters, cursor: string, stack: string[]) => {
    const q = new URLSearchParams()
    for (const n of filterNames) if (f[n] && !(app && n === 'app')) q.set(n, f[n])
    if (cursor) q.set('after', cursor)
    if (stack.length) q.set('prev', stack.map(c => c || '-').join(','))
    const s = q.toString()
    go(base + (s ? '?' + s : ''))
  }
  const apply = (e: Event) => { e.preventDefault(); move(form, '', []) }
  const set = (n: keyof Filters) => (v: string) => setForm({ ...form, [n]: v })
  const appNames = (apps?.apps ?? []).map(a => a.name ?? '')
  const configNames = [...new Set((apps?.apps ?? []).filter(a => !form.app || a.name === form.app)
    .flatMap(a => (a.oauth_configs ?? []).map(c => c.name ?? '')))]
  const first = prev.length * pageSize + 1

  return <>
    <h1>{app ? `Connections of ${app}` : 'Connections'}</h1>
    {app && <p><a href={'#/apps/' + enc(app)}>Back to the app</a> · <a href="#/connections">Connections of every app</a></p>}
    <form class="conn-filters" onSubmit={apply} aria-label="Search and filter connections">
      <Field id="conn-q" label="Search orgs and users" hint="part of an org's or a user's id, in any case" value={form.q} onInput={set('q')} />
      <Field id="conn-org" label="Org" hint="exactly this org" value={form.org} onInput={set('org')} />
      <Field id="conn-user" label="User" hint="exactly this user" value={form.user} onInput={set('user')} />
      {!app && <SelectField id="conn-app" label="App" value={form.app} options={[['', 'Every app'], ...appNames]} onChange={v => setForm({ ...form, app: v, config: '' })} />}
      <SelectField id="conn-config" label="OAuth config" value={form.config} options={[['', 'Every config'], ...configNames]} onChange={set('config')} />
      <SelectField id="conn-status" label="Status" value={form.status} options={statuses} onChange={set('status')} />
      <div class="conn-actions">
        <button class="primary" type="submit">Search</button>
        <button type="button" onClick={() => move({ app: '', config: '', status: '', org: '', user: '', q: '' }, '', [])}>Clear</button>
      </div>
    </form>
    <ErrorBox err={err} />
    {data && <>
      <p id="conn-total" role="status">{data.total === 0 ? 'No connection matches.' :
        `${data.total.toLocaleString('en-GB')} connection${data.total === 1 ? '' : 's'}; showing ${first.toLocaleString('en-GB')}–${(first + data.connections.length - 1).toLocaleString('en-GB')}`}</p>
      {data.connections.length > 0 && <table id="conn-table" tabIndex={0}><caption class="sr">Connections</caption>
        <thead><tr><th scope="col">Org / user</th><th scope="col">App</th><th scope="col">Config</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Last refresh</th><th scope="col">Last error</th></tr></thead>
        <tbody>{data.connections.map(c => <tr>
          <td><a href={connectionHref(c)}>{c.org} / {c.user || '(org)'}</a></td><td>{c.app}</td><td>{c.config}</td>
          <td><span class={'status status-' + c.status}>{c.status}</span></td><td>{fmtTime(c.expires_at)}</td><td>{fmtTime(c.refreshed_at)}</td><td>{c.last_error || '—'}</td>
        </tr>)}</tbody></table>}
      <nav class="pager" aria-label="Pages of connections">
        <button type="button" id="conn-prev" disabled={prev.length === 0} onClick={() => move(filters, prev[prev.length - 1], prev.slice(0, -1))}>Previous page</button>
        <button type="button" id="conn-next" disabled={!data.next} onClick={() => data.next && move(filters, data.next, [...prev, after])}>Next page</button>
      </nav>
    </>}
  </>
}
