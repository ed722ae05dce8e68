// An app's flow traces: every connection's authorizations, refreshes,
// checks and calls, newest first, filtered by flow, org and failure. A
// failed authorization is here although its user never connected, which
// is where a builder looks first when "connect" does not work. The filters
// are kept in the hash (#/apps/{app}/traces?failed=true&kind=…); older
// pages are added below.
import { useEffect, useState } from 'preact/hooks'
import { api, enc, type Answer, type Schemas } from '../api'
import { ErrorBox, Field, SelectField, TraceTable, traceKinds, useLoad } from '../parts'
import { go, hashQuery } from '../router'

type Trace = Schemas['Trace']
const pageSize = 50

export function AppTraces({ name }: { name: string }) {
  const query = hashQuery()
  const filters = { kind: query.get('kind') ?? '', org: query.get('org') ?? '', failed: query.get('failed') === 'true' }
  const [form, setForm] = useState(filters)
  const key = JSON.stringify(filters)
  useEffect(() => setForm(filters), [key])
  const params = (before?: string) => {
    const q = new URLSearchParams({ limit: String(pageSize) })
    if (filters.kind) q.set('kind', filters.kind)
    if (filters.org) q.set('org', filters.org)
    if (filters.failed) q.set('failed', 'true')
    if (before) q.set('before', before)
    return q.toString()
  }
  const base = `/apps/${enc(name)}/traces`
  const [older, setOlder] = useState<Trace[]>([])
  const [more, setMore] = useState<unknown>()
  const [first, err] = useLoad(async () => {
    setOlder([]); setMore(undefined)
    return (await api<Answer<'/apps/{app}/traces', 'get'>>('GET', base + '?' + params())).traces
  }, [name, key])
  const shown = [...(first ?? []), ...older]
  const loadOlder = async () => {
    try {
      const r = await api<Answer<'/apps/{app}/traces', 'get'>>('GET', base + '?' + params(shown[shown.length - 1].id))
      setOlder([...older, ...r.traces]); setMore(r.traces.length < pageSize ? 'end' : undefined)
    } catch (x) { setMore(x) }
  }
  const apply = (e: Event) => {
    e.preventDefault()
    const q = new URLSearchParams()
    if (form.kind) q.set('kind', form.kind)
    if (form.org.trim()) q.set('org', form.org.trim())
    if (form.failed) q.set('failed', 'true')
    go(`apps/${enc(name)}/traces` + (q.toString() ? '?' + q.toString() : ''))
  }
  const kinds: [string, string][] = [['', 'every flow'], ...Object.entries(traceKinds)]
  const full = (first?.length ?? 0) === pageSize && more !== 'end'
  return <>
    <h1>Flow traces of {name}</h1>
    <p><a href={'#/apps/' + enc(name)}>Back to {name}</a> · <a href={`#/apps/${enc(name)}/connections`}>Its connections</a></p>
    <p class="hint">Every authorization, refresh, check and API call of the app's connections, newest first, each with the requests Latchkey sent and the provider's answers, secrets masked. A connection keeps its last 50, for 30 days.</p>
    <form class="audit-filters" onSubmit={apply} aria-label="Filter the traces">
      <SelectField id="traces-kind" label="Flow" value={form.kind} options={kinds} onChange={v => setForm({ ...form, kind: v })} />
      <Field id="traces-org" label="Org" value={form.org} onInput={v => setForm({ ...form, org: v })} hint="Exactly this org." />
      <label class="check"><input type="checkbox" id="traces-only-failed" checked={form.failed} onChange={e => setForm({ ...form, failed: (e.target as HTMLInputElement).checked })} /> Only failures</label>
      <div class="audit-actions"><button class="primary" type="submit">Filter</button>
        <button type="button" onClick={() => go(`apps/${enc(name)}/traces`)}>Clear</button></div>
    </form>
    <ErrorBox err={err} />
    {first && (shown.length === 0 ? <p id="traces-none">No trace{filters.failed ? ' of a failure' : ''}{filters.kind || filters.org ? ' matches' : ' yet'}.</p> :
      <TraceTable app={name} traces={shown} id="app-traces" caption={`Flow traces of ${name}, newest first`} withConnection />)}
    {more !== undefined && more !== 'end' && <ErrorBox err={more} />}
    {full && <button type="button" onClick={loadOlder}>Older traces</button>}
  </>
}
