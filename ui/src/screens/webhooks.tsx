// An app's webhooks: create one (its signing secret is shown once), delete
// one, and read each webhook's deliveries with their attempts.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { CopyValue, ErrorBox, Field, fmtTime, useLoad } from '../parts'

// The event types the API accepts, in the order of a connection's life
// cycle: every member of the document's EventType enum, which a Go test
// holds to pkg/latchkey's EventTypes; the record makes tsc refuse a missing
// or unknown one. None picked means all.
const eventTypeWords: Record<Schemas['EventType'], true> = {
  'connection.created': true, 'connection.refreshed': true, 'connection.refresh_failed': true, 'connection.needs_reauth': true, 'connection.deleted': true,
}
const eventTypes = Object.keys(eventTypeWords) as Schemas['EventType'][]

type Webhook = Schemas['Webhook']
type Created = Answer<'/apps/{app}/webhooks', 'post', 201>

export function Webhooks({ name }: { name: string }) {
  const base = '/apps/' + enc(name) + '/webhooks'
  const [data, err, reload] = useLoad(() => api<Answer<'/apps/{app}/webhooks', 'get'>>('GET', base), [name])
  const [url, setURL] = useState('')
  const [events, setEvents] = useState<string[]>([])
  const [created, setCreated] = useState<Created>()
  const [actErr, setActErr] = useState<APIError>()
  const [open, setOpen] = useState('')
  const create = async (e: Event) => {
    e.preventDefault(); setActErr(undefined); setCreated(undefined)
    try { setCreated(await api<Created>('POST', base, { url, events })); setURL(''); setEvents([]); reload() } catch (x) { setActErr(x as APIError) }
  }
  const remove = async (h: Webhook) => {
    if (!confirm(`Delete the webhook to ${h.url}? Its deliveries stop.`)) return
    setActErr(undefined)
    try { await api('DELETE', base + '/' + enc(h.id)); if (created?.webhook.id === h.id) setCreated(undefined); if (open === h.id) setOpen(''); reload() } catch (x) { setActErr(x as APIError) }
  }
  const toggle = (t: string, on: boolean) => setEvents(on ? eventTypes.filter(k => k === t || events.includes(k)) : events.filter(k => k !== t))
  return <>
    <h1>Webhooks of {name}</h1>
    <p><a href={`#/apps/${enc(name)}`}>Back to the app</a></p>
    <ErrorBox err={err || (actErr && !actErr.fieldError('url') && !actErr.fieldError('events') ? actErr : undefined)} />
    {data && (data.webhooks.length === 0 ? <p>No webhooks yet.</p> :
      <table class="webhooks"><thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">Created</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.webhooks.map(h => <tr><td><code>{h.url}</code></td><td>{h.events.length ? h.events.join(', ') : 'all'}</td><td>{fmtTime(h.created_at)}</td>
          <td><button type="button" class="link" aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? '' : h.id)}>Deliveries<span class="sr"> of {h.url}</span></button>{' · '}
            <button type="button" class="link danger" onClick={() => remove(h)}>Delete<span class="sr"> {h.url}</span></button></td></tr>)}</tbody></table>)}
    {open && <Deliveries base={base} id={open} />}
    <section aria-labelledby="new-webhook"><h2 id="new-webhook">Create a webhook</h2>
      <form onSubmit={create}>
        <Field id="webhook-url" label="URL" type="url" value={url} onInput={setURL} error={actErr?.fieldError('url')} hint="Latchkey POSTs each event here, signed with the webhook's secret." />
        <fieldset id="webhook-events" class="checks"><legend>Events (none picked: all)</legend>
          {eventTypes.map(t => <label class="check"><input type="checkbox" checked={events.includes(t)} onChange={e => toggle(t, (e.target as HTMLInputElement).checked)} /> {t}</label>)}
          {actErr?.fieldError('events') && <p class="field-error">{actErr.fieldError('events')}</p>}
        </fieldset>
        <button class="primary" type="submit">Create webhook</button>
      </form>
      {created && <div class="ok" role="status" id="webhook-secret"><p>Webhook created. Its signing secret, shown this once: copy it now.</p>
        <CopyValue id="webhook-secret-value" value={created.secret} label="signing secret" /></div>}
    </section>
  </>
}

const pageSize = 50

function Deliveries({ base, id }: { base: string; id: string }) {
  // The API gives the newest deliveries up to a limit: "more" asks for a larger one.
  const [limit, setLimit] = useState(pageSize)
  const [data, err, reload] = useLoad(() => api<Answer<'/apps/{app}/webhooks/{id}/deliveries', 'get'>>('GET', `${base}/${enc(id)}/deliveries?limit=${limit}`), [base, id, limit])
  return <section aria-labelledby="deliveries" class="deliveries"><h2 id="deliveries">Deliveries</h2>
    <p><button type="button" class="small" onClick={reload}>Refresh</button></p>
    <ErrorBox err={err} />
    {data && (data.deliveries.length === 0 ? <p>No deliveries yet.</p> : <table><thead><tr><th scope="col">Event</th><th scope="col">State</th><th scope="col">Attempts</th>
      <th scope="col">Next attempt</th><th scope="col">Last status</th><th scope="col">Last error</th><th scope="col">Created</th></tr></thead>
      <tbody>{data.deliveries.map(d => {
        const last = d.attempts?.length ? d.attempts[d.attempts.length - 1] : undefined
        return <tr data-delivery={d.id}><td>{d.event_type} <code class="hint">{d.event_id}</code></td><td>{d.state}</td>
          <td>{d.attempt_count}{d.attempt_count > 1 ? ` (${d.attempt_count - 1} ${d.attempt_count === 2 ? 'retry' : 'retries'})` : ''}
            {d.attempts && d.attempts.length > 0 && <details><summary>Each attempt</summary><ul>{d.attempts.map(a =>
              <li>{fmtTime(a.at)}: {a.status_code ? 'HTTP ' + a.status_code : 'no answer'}{a.error ? ' · ' + a.error : ''}</li>)}</ul></details>}</td>
          <td>{d.next_attempt_at ? fmtTime(d.next_attempt_at) : ''}</td><td>{last?.status_code ?? ''}</td><td>{last?.error ?? ''}</td><td>{fmtTime(d.created_at)}</td></tr>
      })}</tbody></table>)}
    {data && data.deliveries.length >= limit && limit < 1000 && <p><button type="button" onClick={() => setLimit(Math.min(1000, limit + pageSize))}>Show older deliveries</button></p>}
  </section>
}
