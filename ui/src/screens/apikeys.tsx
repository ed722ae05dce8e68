// API keys: admin keys and runtime keys of one app (picked from the
// environment's apps); a new key is shown once, with a button to copy it.
// Each key shows when it last authenticated a request (to within a minute).
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer } from '../api'
import { CopyValue, ErrorBox, Field, fmtTime, SelectField, useLoad } from '../parts'

type Created = Answer<'/apikeys', 'post', 201>

export function APIKeys() {
  const [data, err, reload] = useLoad(() => api<Answer<'/apikeys', 'get'>>('GET', '/apikeys'), [])
  const [apps] = useLoad(() => api<Answer<'/apps', 'get'>>('GET', '/apps'), [])
  const [form, setForm] = useState({ name: '', scope: 'runtime', app: '' })
  const [created, setCreated] = useState<Created>()
  const [actErr, setActErr] = useState<APIError>()
  const appNames = (apps?.apps ?? []).map(a => a.name ?? '').filter(Boolean)
  const create = async (e: Event) => {
    e.preventDefault(); setActErr(undefined); setCreated(undefined)
    const body = form.scope === 'runtime' ? { ...form, app: form.app || appNames[0] || '' } : { name: form.name, scope: form.scope }
    try { setCreated(await api<Created>('POST', '/apikeys', body)); reload() } catch (x) { setActErr(x as APIError) }
  }
  const revoke = async (id: string) => {
    if (!confirm(`Revoke key ${id}?`)) return
    try { await api('DELETE', '/apikeys/' + enc(id)); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <>
    <h1>API keys</h1>
    <ErrorBox err={err || (actErr && !actErr.fieldError('app') && !actErr.fieldError('name') ? actErr : undefined)} />
    {data && <table class="apikeys" tabIndex={0} aria-label="API keys"><thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">App</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>{data.api_keys.map(k => <tr data-key={k.id}><td><code>{k.id}</code></td><td>{k.name}</td><td>{k.scope}</td><td>{k.app}</td><td>{fmtTime(k.created_at)}</td>
        <td class="last-used">{k.last_used_at ? fmtTime(k.last_used_at) : 'never'}</td>
        <td>{k.revoked_at ? 'revoked' : 'active'}</td><td>{!k.revoked_at && <button type="button" class="link danger" onClick={() => revoke(k.id)}>Revoke<span class="sr"> {k.id}</span></button>}</td></tr>)}</tbody></table>}
    <section aria-labelledby="new-key"><h2 id="new-key">Create a key</h2>
      <form onSubmit={create} class="inline">
        <Field id="key-name" label="Name" value={form.name} onInput={v => setForm({ ...form, name: v })} error={actErr?.fieldError('name')} />
        <SelectField id="key-scope" label="Scope" value={form.scope} onChange={v => setForm({ ...form, scope: v })}
          options={[['runtime', "runtime (one app's settings and connections)"], ['admin', 'admin']]} />
        {form.scope === 'runtime' && (appNames.length
          ? <SelectField id="key-app" label="App" value={form.app || appNames[0]} options={appNames} onChange={v => setForm({ ...form, app: v })} error={actErr?.fieldError('app')} />
          : <p class="hint" id="key-app">No app yet: a runtime key reads one app, so create the app first.</p>)}
        <button class="primary" type="submit">Create key</button>
      </form>
      {created && <div class="ok" role="status" id="key-created"><p>Key {created.api_key.id} created. The key, shown this once: copy it now.</p>
        <CopyValue id="key-value" value={created.key} label="API key" /></div>}
    </section>
  </>
}
