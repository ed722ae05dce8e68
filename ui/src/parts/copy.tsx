// A value to copy elsewhere (a callback URL to register at a provider, an
// install link, a key shown once), with a button that copies it.
import { useState } from 'preact/hooks'

/** CopyValue shows value as code with a Copy button; label names it for screen readers. */
export function CopyValue({ id, value, label }: { id: string; value: string; label: string }) {
  const [state, setState] = useState<'' | 'copied' | 'failed'>('')
  const copy = async () => {
    try { await navigator.clipboard.writeText(value); setState('copied') } catch {
      // Without clipboard access (an insecure origin) the value is selected
      // instead, for the person to copy with the keyboard.
      const r = document.createRange(); const el = document.getElementById(id)
      if (el) { r.selectNodeContents(el); getSelection()?.removeAllRanges(); getSelection()?.addRange(r) }
      setState('failed')
    }
  }
  return <span class="copy">
    <code id={id}>{value}</code>{' '}
    <button type="button" class="small" onClick={copy} aria-describedby={id}>Copy<span class="sr"> {label}</span></button>
    <span role="status" class="hint">{state === 'copied' ? 'Copied.' : state === 'failed' ? 'Selected: press Ctrl+C to copy.' : ''}</span>
  </span>
}
