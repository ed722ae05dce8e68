// The editor of an app's settings: the values an org fills when it
// installs the app, and those a user's connection fills (its tokens).
import type { APIError, Schemas } from '../api'

type Setting = Schemas['Setting']

/** SettingsEditor edits the app document's settings as a table, one row each. */
export function SettingsEditor({ settings, err, onChange }: { settings: Setting[]; err?: APIError; onChange: (s: Setting[]) => void }) {
  const set = <K extends keyof Setting>(i: number, k: K, v: Setting[K]) => onChange(settings.map((s, j) => {
    if (j !== i) return s
    const n: Setting = { ...s }
    // An unset field stays out of the document rather than becoming "" or false.
    if (v === '' || v === false) delete n[k]; else n[k] = v
    return n
  }))
  return <fieldset><legend>Settings</legend>
    <table class="settings"><thead><tr><th scope="col">Name</th><th scope="col">Level</th><th scope="col">Secret</th><th scope="col">Required</th><th scope="col">Description</th><th scope="col">Default</th><th scope="col"><span class="sr">Remove</span></th></tr></thead>
      <tbody>{settings.map((s, i) => {
        const fe = (f: string) => err?.fieldError(`settings[${i}].${f}`)
        return <tr>
          <td><input id={`s${i}-name`} aria-label={`setting ${i + 1} name`} value={s.name} onInput={e => set(i, 'name', (e.target as HTMLInputElement).value)} aria-invalid={fe('name') ? 'true' : undefined} />
            {fe('name') && <p class="field-error">{fe('name')}</p>}</td>
          <td><select id={`s${i}-level`} aria-label={`setting ${i + 1} level`} value={s.level} onChange={e => set(i, 'level', (e.target as HTMLSelectElement).value as Setting['level'])}><option value="org">org</option><option value="user">user</option></select>
            {fe('level') && <p class="field-error">{fe('level')}</p>}</td>
          <td><input type="checkbox" id={`s${i}-secret`} aria-label={`setting ${i + 1} secret`} checked={!!s.secret} onChange={e => set(i, 'secret', (e.target as HTMLInputElement).checked)} /></td>
          <td><input type="checkbox" id={`s${i}-required`} aria-label={`setting ${i + 1} required`} checked={!!s.required} onChange={e => set(i, 'required', (e.target as HTMLInputElement).checked)} /></td>
          <td><input id={`s${i}-description`} aria-label={`setting ${i + 1} description`} value={s.description || ''} onInput={e => set(i, 'description', (e.target as HTMLInputElement).value)} /></td>
          <td><input id={`s${i}-default`} aria-label={`setting ${i + 1} default`} value={s.default || ''} onInput={e => set(i, 'default', (e.target as HTMLInputElement).value)} /></td>
          <td><button type="button" class="link" id={`s${i}-remove`} onClick={() => onChange(settings.filter((_, j) => j !== i))}>Remove<span class="sr"> setting {s.name}</span></button></td>
        </tr>
      })}</tbody></table>
    <button type="button" onClick={() => onChange([...settings, { name: '', level: 'org' }])}>Add a setting</button>
  </fieldset>
}
