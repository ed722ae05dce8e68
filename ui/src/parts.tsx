// Building blocks every screen uses: the error box, a labelled field,
// one time format, and a loader hook.
import { useEffect, useState } from 'preact/hooks'
import type { APIError } from './api'

export function ErrorBox({ err }: { err: unknown }) {
  if (!err) return null
  const e = err as APIError
  return <div class="alert" role="alert">
    <strong>{e.message}</strong>
    {e.provider && <p>Provider said: <code>{e.provider.code}</code> {e.provider.description}</p>}
    {e.details && e.details.length > 0 && <ul>{e.details.map(d => <li><code>{d.field || 'body'}</code> {d.message}</li>)}</ul>}
  </div>
}

export function Field(props: { id: string; label: string; value: string; onInput: (v: string) => void; error?: string; hint?: string;
  type?: string; multiline?: boolean; rows?: number; required?: boolean; autocomplete?: string }) {
  const { id, label, value, onInput, error, hint, type = 'text', multiline, rows = 4, required, autocomplete } = props
  const describedBy = [hint ? id + '-hint' : '', error ? id + '-error' : ''].filter(Boolean).join(' ') || undefined
  const common = { id, name: id, value, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy, required, autocomplete,
    onInput: (e: Event) => onInput((e.target as HTMLInputElement).value) }
  return <div class={'field' + (error ? ' has-error' : '')} data-field={id}>
    <label for={id}>{label}{required && <span aria-hidden="true"> *</span>}</label>
    {hint && <p class="hint" id={id + '-hint'}>{hint}</p>}
    {multiline ? <textarea rows={rows} spellcheck={false} {...common} /> : <input type={type} spellcheck={false} {...common} />}
    {error && <p class="field-error" id={id + '-error'}>{error}</p>}
  </div>
}

// fmtTime is the one format of every time the UI shows: the browser's
// time zone, named, with the date spelled out the same way everywhere.
const timeFormat = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' })
export function fmtTime(t?: string) { return t ? timeFormat.format(new Date(t)) : '—' }
// fmtTimesIn writes the RFC 3339 times inside a server's text (an audit
// detail: "link … expires 2026-11-23T10:00:00Z") in the same format.
export function fmtTimesIn(text?: string) { return (text || '').replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, t => fmtTime(t)) }

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, unknown, () => void] {
  const [data, setData] = useState<T>()
  const [err, setErr] = useState<unknown>()
  const [n, setN] = useState(0)
  useEffect(() => { setErr(undefined); load().then(setData, setErr) }, [...deps, n])
  return [data, err, () => setN(n + 1)]
}
