// Flow traces: what Latchkey sent a provider and what it answered, step by
// step, secrets masked by the server. ConnectionTraces lists a
// connection's traces (its authorizations, refreshes, checks and last API
// calls); TraceView shows one with its steps.
import { useState } from 'preact/hooks'
import { api, enc, type Answer, type Schemas } from '../api'
import { ErrorBox } from './errors'
import { fmtTime } from './format'
import { connectionHref } from './links'
import { useLoad } from './load'

type Trace = Schemas['Trace']
type Step = Schemas['TraceStep']

/** What a trace's kind means, in words. */
export const traceKinds: Record<Trace['kind'], string> = {
  authorization: 'authorization', refresh: 'refresh', api: 'API call', proxy: 'proxied call', verify: 'check',
}

function ms(d: number): string { return d < 1 ? '<1 ms' : d < 1000 ? `${Math.round(d)} ms` : `${(d / 1000).toFixed(1)} s` }

function outcome(t: { ok?: boolean; status?: number }): string {
  return (t.ok === false ? 'failed' : 'ok') + (t.status ? ` · HTTP ${t.status}` : '')
}

function Headers({ h, label }: { h?: Record<string, string>; label: string }) {
  const names = Object.keys(h ?? {}).sort()
  if (names.length === 0) return null
  return <><dt>{label}</dt><dd><dl class="trace-headers">{names.map(n => <><dt>{n}</dt><dd><code>{h![n]}</code></dd></>)}</dl></dd></>
}

function StepView({ s, n }: { s: Step; n: number }) {
  const failed = !!s.error || (s.status ?? 0) >= 400
  return <details class={'trace-step' + (failed ? ' trace-step-failed' : '')} open={failed}>
    <summary><span class="trace-n">{n}.</span> <strong>{s.name}</strong>{' '}
      {s.method && <code>{s.method}</code>} <code class="trace-url">{s.url}</code>
      {' → '}{s.redirect ? (s.error ? 'refused' : 'back with a code') : s.error ? 'no answer' : s.status ? `HTTP ${s.status}` : '—'}
      {!s.redirect && <span class="hint"> ({ms(s.duration_ms)})</span>}</summary>
    <dl class="values trace-detail">
      <dt>Sent</dt><dd>{fmtTime(s.started_at)}</dd>
      <Headers h={s.request_headers} label="Request headers" />
      {s.request_body && <><dt>Request body</dt><dd><pre>{s.request_body}</pre></dd></>}
      <Headers h={s.response_headers} label="Answer headers" />
      {s.response_body && <><dt>Answer</dt><dd><pre>{s.response_body}</pre></dd></>}
      {s.truncated && <><dt>Note</dt><dd>a body was cut at 8 KiB</dd></>}
      {s.error && <><dt>{s.redirect ? 'The provider said' : 'Error'}</dt><dd><code>{s.error}</code></dd></>}
      {s.redirect && !s.error && <><dt>Detail</dt><dd class="hint">The provider sent the user back to Latchkey; the code and state are masked.</dd></>}
      {!s.redirect && !s.request_headers && !s.response_body && !s.error && <><dt>Detail</dt><dd class="hint">A call that succeeded is kept as its URL, status and time; headers and bodies are kept for the OAuth flows and for refusals.</dd></>}
    </dl>
  </details>
}

/** TraceView shows one trace of app with its steps; every secret in it is already masked. */
export function TraceView({ app, id }: { app: string; id: string }) {
  const [t, err] = useLoad(() => api<Answer<'/apps/{app}/traces/{id}', 'get'>>('GET', `/apps/${enc(app)}/traces/${enc(id)}`), [app, id])
  return <div class="trace" id={'trace-' + id}>
    <ErrorBox err={err} />
    {t && <>
      <p class={t.ok ? 'ok' : 'trace-error'}>{traceKinds[t.kind]}{t.name ? ` ${t.name}` : ''}: {outcome(t)}, {ms(t.duration_ms)}, {fmtTime(t.started_at)}
        {t.error && <><br /><span>{t.error}</span></>}</p>
      {(t.steps ?? []).length === 0 ? <p class="hint">No request was sent.</p> :
        <ol class="trace-steps">{(t.steps ?? []).map((s, i) => <li><StepView s={s} n={i + 1} /></li>)}</ol>}
    </>}
  </div>
}

/**
 * TraceTable lists traces, each opening into its steps; withConnection adds
 * the column of the connection each belongs to (an app's listing).
 */
export function TraceTable({ app, traces, id, caption, withConnection }: { app: string; traces: Trace[]; id: string; caption: string; withConnection?: boolean }) {
  const [open, setOpen] = useState<string>()
  const cols = withConnection ? 6 : 5
  return <table id={id} class="trace-table" tabIndex={0}>
    <caption class="sr">{caption}</caption>
    <thead><tr><th scope="col">Time</th>{withConnection && <th scope="col">Connection</th>}<th scope="col">Flow</th><th scope="col">Result</th><th scope="col">Took</th><th scope="col">Steps</th></tr></thead>
    <tbody>{traces.map(t => <>
      <tr class={t.ok ? '' : 'trace-failed'}>
        <td>{fmtTime(t.started_at)}</td>
        {withConnection && <td><a href={connectionHref(t)}>{t.org} / {t.user || '(org)'}</a> <code>{t.config}</code></td>}
        <td>{traceKinds[t.kind]}{t.name ? <> <code>{t.name}</code></> : null}</td>
        <td class="trace-result">{outcome(t)}{t.error && <><br /><span class="hint">{t.error}</span></>}</td>
        <td>{ms(t.duration_ms)}</td>
        <td><button type="button" class="link" aria-expanded={open === t.id} aria-controls={'trace-' + t.id}
          onClick={() => setOpen(open === t.id ? undefined : t.id)}>{open === t.id ? 'Hide' : 'Show'} {t.step_count} step{t.step_count === 1 ? '' : 's'}</button></td>
      </tr>
      {open === t.id && <tr><td colSpan={cols}><TraceView app={app} id={t.id} /></td></tr>}
    </>)}</tbody>
  </table>
}

/** ConnectionTraces lists the traces of the connection at path (…/connections/{config}), newest first. */
export function ConnectionTraces({ app, path, reload }: { app: string; path: string; reload?: number }) {
  const [onlyFailed, setOnlyFailed] = useState(false)
  const [list, err] = useLoad(async () =>
    (await api<Answer<'/apps/{app}/orgs/{org}/connections/{config}/traces', 'get'>>('GET', path + '/traces')).traces, [path, reload ?? 0])
  const shown = (list ?? []).filter(t => !onlyFailed || !t.ok)
  return <section aria-labelledby="conn-traces-h" class="traces">
    <h2 id="conn-traces-h">Flow traces</h2>
    <p class="hint">Each authorization, refresh, check and the last API calls of this connection, newest first (the last 50), with every request Latchkey sent and the provider's answer. Secrets are masked.</p>
    <ErrorBox err={err} />
    <label class="check"><input type="checkbox" id="traces-failed" checked={onlyFailed} onChange={e => setOnlyFailed((e.target as HTMLInputElement).checked)} /> Only failures</label>
    {list && shown.length === 0 ? <p>No trace{onlyFailed ? ' of a failure' : ''} yet.</p> :
      <TraceTable app={app} traces={shown} id="conn-traces" caption="Flow traces of the connection, newest first" />}
  </section>
}

/** traceIDs returns the ids of the connection's traces now: what a run's newest trace is not. */
export async function traceIDs(path: string): Promise<string[]> {
  const r = await api<Answer<'/apps/{app}/orgs/{org}/connections/{config}/traces', 'get'>>('GET', path + '/traces?limit=10')
  return r.traces.map(t => t.id)
}

/** LatestTrace shows the newest trace of kind for the connection at path that is not one of before. */
export function LatestTrace({ app, path, kind, before }: { app: string; path: string; kind: Trace['kind']; before: string[] }) {
  const [t, err] = useLoad(async () => {
    const r = await api<Answer<'/apps/{app}/orgs/{org}/connections/{config}/traces', 'get'>>('GET', path + '/traces?limit=10')
    return r.traces.find(t => t.kind === kind && !before.includes(t.id)) ?? null
  }, [path, kind, before])
  return <div class="latest-trace">
    <ErrorBox err={err} />
    {t === null && <p class="hint">No trace of this run was recorded (traces may be turned off).</p>}
    {t && <><h3>Trace of this run</h3><TraceView app={app} id={t.id} /></>}
  </div>
}
