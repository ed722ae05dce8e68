// A JSON value edited as text: a map of headers, a list of metadata rules.
import { useEffect, useState } from 'preact/hooks'
import { Field } from './fields'

const show = (v: unknown) => v === undefined || v === null ? '' : JSON.stringify(v, null, 2)

/**
 * JSONField edits a JSON value as text. The text is kept as typed; each
 * edit that parses is handed on (empty text is undefined, so an unset
 * field stays unset), and text that does not parse says so beside the
 * field. A value from elsewhere (a reload) replaces the text.
 */
export function JSONField(props: { id: string; label: string; value: unknown; onChange: (v: unknown) => void; error?: string; hint?: string }) {
  const { id, label, value, onChange, error, hint } = props
  const [text, setText] = useState(show(value))
  const [bad, setBad] = useState('')
  useEffect(() => {
    let typed = '\u0000' // text that does not parse equals no value
    try { typed = show(text.trim() ? JSON.parse(text) : undefined) } catch { /* text being typed */ }
    if (typed !== show(value)) { setText(show(value)); setBad('') }
  }, [JSON.stringify(value)])
  return <Field id={id} label={label} hint={hint ?? 'JSON'} multiline value={text} error={bad || error}
    onInput={t => {
      setText(t)
      try { onChange(t.trim() ? JSON.parse(t) : undefined); setBad('') } catch { setBad('is not valid JSON') }
    }} />
}
