// How the UI shows what the server refused: every error, with the field it
// names when it names one, and the provider's own words when it spoke.
import { useEffect } from 'preact/hooks'
import type { APIError } from '../api'

/** ErrorBox shows an error of the API (or any error) in full: its message, the provider's error, each field's problem. */
export function ErrorBox({ err }: { err: unknown }) {
  if (!err) return null
  const e = err as APIError
  return <div class="alert" role="alert">
    <strong>{e.message}</strong>
    {e.provider && <p>Provider said: <code>{e.provider.code}</code> {e.provider.description}</p>}
    {e.details && e.details.length > 0 && <ul>{e.details.map(d => <li><code>{d.field || 'body'}</code> {d.message}</li>)}</ul>}
  </div>
}

/**
 * ErrorSummary lists every error the server sent: those naming a field
 * link to the input target(field) names (where the message is also shown
 * beside it), and those that name none are shown here in full, so that no
 * error goes unseen. It takes the focus when it appears, scrolled into
 * view, wherever the save button was.
 */
export function ErrorSummary({ err, id, target }: { err: APIError; id: string; target?: (field: string) => string | undefined }) {
  useEffect(() => {
    const el = document.getElementById(id)
    el?.focus(); el?.scrollIntoView({ block: 'start' })
  }, [err])
  return <div class="alert" role="alert" id={id} tabIndex={-1}>
    <strong>{err.message}</strong>
    {err.provider && <p>Provider said: <code>{err.provider.code}</code> {err.provider.description}</p>}
    {err.details.length > 0 && <ul>{err.details.map(d => {
      const to = d.field && target ? target(d.field) : undefined
      return <li>{d.field && (to
        ? <a href={'#' + to} onClick={e => { e.preventDefault(); document.getElementById(to)?.focus() }}><code>{d.field}</code></a>
        : <code>{d.field}</code>)}{d.field ? ' ' : ''}{d.message}</li>
    })}</ul>}
  </div>
}
