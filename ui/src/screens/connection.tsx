// One connection: its status, scopes, expiry, last refresh and error, its
// metadata, the events of its life, its flow traces (authorizations,
// refreshes, the last API calls), a forced refresh and disconnect. Its token is never fetched: the refresh route answers the
// connection without it.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { go } from '../router'
import { ConnectionTraces, ErrorBox, fmtTime, fmtTimesIn, useLoad } from '../parts'

type Conn = Schemas['Connection']
type Event = Schemas['AuditEvent']

/** What an event's action means, in words; others are shown as the server names them. */
const actionWords: Record<string, string> = {
  'connection.created': 'created', 'connection.refreshed': 'refreshed', 'connection.refresh_failed': 'refresh failed',
  'connection.needs_reauth': 'needs re-authorization', 'connection.deleted': 'disconnected', 'token.read': 'token read',
  'link.create': 'link created',
}

/** ConnectionPage is the detail at #/connections/{app}/{org}/{user}/{config}, or #/connections/{app}/{org}/{config} for an org's own. */
export function ConnectionPage({ app, org, user, config }: { app: string; org: string; user?: string; config: string }) {
  const path = `/apps/${enc(app)}/orgs/${enc(org)}` + (user ? `/users/${enc(user)}` : '') + `/connections/${enc(config)}`
  const listHref = `connections?app=${enc(app)}`
  // The search route with every key part set reads the one connection, without its token.
  const [found, err, reload] = useLoad(async () => {
    const q = new URLSearchParams({ app, org, config, limit: '1' })
    if (user) q.set('user', user)
    const page = await api<Answer<'/connections', 'get'>>('GET', '/connections?' + q.toString())
    return page.connections.find(c => c.app === app && c.org === org && (c.user || '') === (user || '') && c.config === config) ?? null
  }, [path])
  const [events, setEvents] = useState<Event[]>([])
  const [older, setOlder] = useState(true)
  const [eventsErr, eventsErrSet] = useState<unknown>()
  const [n, setN] = useState(0)
  useLoad(async () => {
    try {
      const r = await api<Answer<'/apps/{app}/orgs/{org}/connections/{config}/events', 'get'>>('GET', path + '/events?limit=50')
      setEvents(r.events); setOlder(r.events.length === 50); eventsErrSet(undefined)
    } catch (x) { eventsErrSet(x) }
    return true
  }, [path, n])
  const loadOlder = async () => {
    try {
      const r = await api<Answer<'/apps/{app}/orgs/{org}/connections/{config}/events', 'get'>>('GET', `${path}/events?limit=50&before=${events[events.length - 1].id}`)
      setEvents([...events, ...r.events]); setOlder(r.events.length === 50)
    } catch (x) { eventsErrSet(x) }
  }
  const [msg, setMsg] = useState('')
  const [actErr, setActErr] = useState<APIError>()
  const [busy, setBusy] = useState(false)
  const [gone, setGone] = useState(false)
  const refresh = async () => {
    setActErr(undefined); setMsg(''); setBusy(true)
    try {
      const r = await api<Conn>('POST', path + '/refresh')
      setMsg(`Refreshed ${fmtTime(r.refreshed_at)}: ${r.status}, expires ${fmtTime(r.expires_at)}.`)
    } catch (x) { setActErr(x as APIError) }
    setBusy(false); reload(); setN(x => x + 1)
    // The server records the refresh's events as it goes on: read them again a moment later.
    setTimeout(() => setN(x => x + 1), 1000)
  }
  const disconnect = async (force: boolean) => {
    if (!confirm(`Disconnect ${user || org} from ${config} of ${app}?` + (force ? ' The token is not revoked at the provider.' : ' The token is revoked at the provider.'))) return
    setActErr(undefined); setMsg(''); setBusy(true)
    try {
      // A 200 instead of a 204 carries a notice: the token was not revoked, and why. It is shown, not lost.
      const d = await api<Answer<'/apps/{app}/orgs/{org}/connections/{config}', 'delete'> | undefined>('DELETE', path + (force ? '?force=true' : ''))
      if (d?.notice) { setMsg('Disconnected. ' + d.notice); setGone(true); setBusy(false) } else go(listHref)
    } catch (x) { setActErr(x as APIError); setBusy(false) }
  }
  const c = found
  const title = `${org} / ${user || '(org)'} · ${config}`
  return <>
    <h1>Connection {title}</h1>
    <p><a href={'#/' + listHref}>Back to the connections of {app}</a> · <a href="#/connections">Every connection</a></p>
    <ErrorBox err={err} />
    {c === null && <p class="notice" role="status">No such connection: it was disconnected, or never made.</p>}
    {gone && <p class="notice" role="status" id="conn-gone">{msg} <a href={'#/' + listHref}>Back to the connections</a></p>}
    {c && !gone && <>
      <dl class="values conn-detail" id="conn-detail">
        <dt>App</dt><dd><a href={'#/apps/' + enc(app)}>{app}</a></dd>
        <dt>Org</dt><dd><code>{org}</code></dd>
        <dt>User</dt><dd>{user ? <code>{user}</code> : 'none: the org\'s own connection'}</dd>
        <dt>OAuth config</dt><dd><code>{config}</code></dd>
        <dt>Status</dt><dd><span id="conn-status-value" class={'status status-' + c.status}>{c.status}</span></dd>
        <dt>Scopes</dt><dd>{c.scope ? c.scope.split(/[\s,]+/).filter(Boolean).map(s => <code class="chip">{s}</code>) : '—'}</dd>
        <dt>Expires</dt><dd>{fmtTime(c.expires_at)}</dd>
        <dt>Last refresh</dt><dd>{fmtTime(c.refreshed_at)}</dd>
        <dt>Last error</dt><dd>{c.last_error ? <code>{c.last_error}</code> : '—'}</dd>
        {c.next_attempt_at && <><dt>Next attempt</dt><dd>{fmtTime(c.next_attempt_at)}</dd></>}
        {c.failures ? <><dt>Failures in a row</dt><dd>{c.failures}</dd></> : null}
      </dl>
      <details class="conn-meta"><summary>Metadata</summary>
        <dl class="values">
          <dt>Token type</dt><dd>{c.token_type || '—'}</dd>
          <dt>Version</dt><dd>{c.version}</dd>
          <dt>Created</dt><dd>{fmtTime(c.created_at)}</dd>
          <dt>Updated</dt><dd>{fmtTime(c.updated_at)}</dd>
          <dt>Keep-alive refresh</dt><dd>{fmtTime(c.keep_alive_at)}</dd>
        </dl>
      </details>
      <div class="conn-buttons">
        <button type="button" class="primary" disabled={busy} onClick={refresh}>Refresh now</button>
        <button type="button" class="danger" disabled={busy} onClick={() => disconnect(false)}>Disconnect</button>
        {actErr && actErr.status >= 424 && <button type="button" class="danger" disabled={busy} onClick={() => disconnect(true)}>Disconnect without revoking</button>}
      </div>
      <p class="hint">Refresh now asks the provider for a new token, due or not; the token itself never reaches this page.</p>
      {msg && <p class="ok" role="status">{msg}</p>}
      <ErrorBox err={actErr} />
    </>}
    <section aria-labelledby="conn-events-h">
      <h2 id="conn-events-h">Events</h2>
      <ErrorBox err={eventsErr} />
      {events.length === 0 && !eventsErr ? <p>No event yet.</p> : <table id="conn-events" tabIndex={0}><caption class="sr">Events of the connection, newest first</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">By</th><th scope="col">Detail</th></tr></thead>
        <tbody>{events.map(e => <tr><td>{fmtTime(e.time)}</td><td>{actionWords[e.action] ?? e.action} <code>{e.action}</code></td><td>{e.actor}</td><td>{fmtTimesIn(e.detail) || '—'}</td></tr>)}</tbody></table>}
      {older && events.length > 0 && <button type="button" onClick={loadOlder}>Older events</button>}
    </section>
    <ConnectionTraces app={app} path={path} reload={n} />
  </>
}
