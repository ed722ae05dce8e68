// Labelled inputs: the label, a hint, the server's message for the field,
// and the ARIA attributes that tie them together.
import { useEffect, useState } from 'preact/hooks'

/** Field is a labelled text input (or text area) with its hint and its error. */
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

/** SelectField is a labelled select of fixed choices, each a value with an optional label. */
export function SelectField(props: { id: string; label: string; value: string; options: (string | [string, string])[];
  onChange: (v: string) => void; error?: string; hint?: string }) {
  const { id, label, value, options, onChange, error, hint } = props
  const describedBy = [hint ? id + '-hint' : '', error ? id + '-error' : ''].filter(Boolean).join(' ') || undefined
  return <div class={'field' + (error ? ' has-error' : '')} data-field={id}>
    <label for={id}>{label}</label>
    {hint && <p class="hint" id={id + '-hint'}>{hint}</p>}
    <select id={id} name={id} value={value} aria-invalid={error ? true : undefined} aria-describedby={describedBy}
      onChange={e => onChange((e.target as HTMLSelectElement).value)}>
      {options.map(o => typeof o === 'string' ? <option value={o}>{o}</option> : <option value={o[0]}>{o[1]}</option>)}
    </select>
    {error && <p class="field-error" id={id + '-error'}>{error}</p>}
  </div>
}

/**
 * ListField edits a list of space-free values (scopes, URLs), one per line
 * or separated by spaces. The text is kept as typed, so that a space or a
 * new line typed at the end stays; the list is what the text parses to.
 */
export function ListField(props: { id: string; label: string; value: string[]; onInput: (v: string[]) => void; error?: string; hint?: string }) {
  const { value, onInput } = props
  const parse = (t: string) => t.split(/\s+/).filter(Boolean)
  const [text, setText] = useState(value.join('\n'))
  // A value from elsewhere (a reload, a removed config) replaces the text;
  // the admin's own typing, which parses to the value, does not.
  useEffect(() => { if (parse(text).join(' ') !== value.join(' ')) setText(value.join('\n')) }, [value.join(' ')])
  return <Field id={props.id} label={props.label} hint={props.hint ?? 'one per line, or separated by spaces'} multiline rows={3} value={text}
    onInput={t => { setText(t); onInput(parse(t)) }} error={props.error} />
}
