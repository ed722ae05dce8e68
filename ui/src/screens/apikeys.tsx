// API keys: admin keys and runtime keys of one app; a new key is shown once.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer } from '../api'
import { ErrorBox, Field, fmtTime, useLoad } from '../parts'

export function APIKeys() {
  const [data, err, reload] = useLoad(() => api<Answer<'/apikeys', 'get'>>('GET', '/apikeys'), [])
  const [form, setForm] = useState({ name: '', scope: 'runtime', app: '' })
  const [created, setCreated] = useState('')
  const [actErr, setActErr] = useState<APIError>()
  const create = async (e: Event) => {
    e.preventDefault(); setActErr(undefined); setCreated('')
    try { setCreated((await api<any>('POST', '/apikeys', form)).key); reload() } catch (x) { setActErr(x as APIError) }
  }
  const revoke = async (id: string) => {
    if (!confirm(`Revoke key ${id}?`)) return
    try { await api('DELETE', '/apikeys/' + enc(id)); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <>
    <h1>API keys</h1>
    <ErrorBox err={err || actErr} />
    {data && <table><thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">App</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>{data.api_keys.map(k => <tr><td><code>{k.id}</code></td><td>{k.name}</td><td>{k.scope}</td><td>{k.app}</td><td>{fmtTime(k.created_at)}</td>
        <td>{k.revoked_at ? 'revoked' : 'active'}</td><td>{!k.revoked_at && <button type="button" class="link danger" onClick={() => revoke(k.id)}>Revoke<span class="sr"> {k.id}</span></button>}</td></tr>)}</tbody></table>}
    <section aria-labelledby="new-key"><h2 id="new-key">Create a key</h2>
      <form onSubmit={create} class="inline">
        <Field id="key-name" label="Name" value={form.name} onInput={v => setForm({ ...form, name: v })} />
        <div class="field"><label for="key-scope">Scope</label><select id="key-scope" value={form.scope} onChange={e => setForm({ ...form, scope: (e.target as HTMLSelectElement).value })}>
          <option value="runtime">runtime (one app's settings and connections)</option><option value="admin">admin</option></select></div>
        {form.scope === 'runtime' && <Field id="key-app" label="App" value={form.app} onInput={v => setForm({ ...form, app: v })} error={actErr?.fieldError('app')} />}
        <button class="primary" type="submit">Create key</button>
      </form>
      {created && <p class="ok" role="status">The key, shown this once: <code>{created}</code></p>}
    </section>
  </>
}
