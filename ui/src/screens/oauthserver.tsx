// The OAuth server screen: Latchkey as an OAuth provider for its own API,
// in the environment the header's switcher names. OAuth support and token
// lifetimes, permission groups, the scopes that grant them, OAuth apps
// (with their icons), and the authorizations people gave them.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { ErrorBox, Field, fmtTime, useLoad } from '../parts'

type Group = Schemas['OAuthGroup']
type Scope = Schemas['OAuthScope']

/** lines splits a one-per-line list, so that a value may hold spaces. */
const lines = (s: string) => s.split('\n').map(l => l.trim()).filter(Boolean)

function Checks({ id, legend, options, value, onChange, error }: {
  id: string; legend: string; options: { name: string; hint?: string }[]; value: string[]; onChange: (v: string[]) => void; error?: string
}) {
  return <fieldset class={'field checks' + (error ? ' has-error' : '')} data-field={id} aria-describedby={error ? id + '-error' : undefined}>
    <legend>{legend}</legend>
    {options.length === 0 && <p class="hint">None yet.</p>}
    {options.map(o => <label class="check"><input type="checkbox" name={id} value={o.name} checked={value.includes(o.name)}
      onChange={e => onChange((e.target as HTMLInputElement).checked ? [...value, o.name] : value.filter(v => v !== o.name))} />
      {' '}<code>{o.name}</code>{o.hint && <span class="hint"> {o.hint}</span>}</label>)}
    {error && <p class="field-error" id={id + '-error'}>{error}</p>}
  </fieldset>
}

function Settings() {
  const [data, err, reload] = useLoad(() => api<Answer<'/oauth/server', 'get'>>('GET', '/oauth/server'), [])
  const [form, setForm] = useState<{ enabled: boolean; access: string; refresh: string }>()
  const [actErr, setActErr] = useState<APIError>()
  const [saved, setSaved] = useState(false)
  const f = form ?? (data && { enabled: data.enabled, access: data.access_token_ttl, refresh: data.refresh_token_ttl })
  const save = async (e: Event) => {
    e.preventDefault()
    if (!f) return
    setActErr(undefined); setSaved(false)
    try {
      await api<Answer<'/oauth/server', 'put'>>('PUT', '/oauth/server', { enabled: f.enabled, access_token_ttl: f.access, refresh_token_ttl: f.refresh })
      setForm(undefined); setSaved(true); reload()
    } catch (x) { setActErr(x as APIError) }
  }
  return <section aria-labelledby="oauth-settings"><h2 id="oauth-settings">OAuth support</h2>
    <ErrorBox err={err || actErr} />
    {f && <form onSubmit={save}>
      <label class="check"><input type="checkbox" id="oauth-enabled" checked={f.enabled} onChange={e => setForm({ ...f, enabled: (e.target as HTMLInputElement).checked })} />
        {' '}Let OAuth apps ask people for tokens to Latchkey's API in this environment</label>
      <Field id="oauth-access-ttl" label="Access token lifetime" hint="A duration such as 8h (the default) or 30m." value={f.access}
        onInput={v => setForm({ ...f, access: v })} error={actErr?.fieldError('access_token_ttl')} />
      <Field id="oauth-refresh-ttl" label="Refresh token lifetime" hint="Each refresh answers a new refresh token; 720h by default." value={f.refresh}
        onInput={v => setForm({ ...f, refresh: v })} error={actErr?.fieldError('refresh_token_ttl')} />
      <button class="primary" type="submit">Save</button>
      {saved && <span class="ok" role="status"> Saved.</span>}
    </form>}
    {data && <dl class="values"><dt>Issuer</dt><dd><code>{data.issuer}</code></dd><dt>Metadata</dt><dd><code>{data.metadata_url}</code></dd></dl>}
  </section>
}

function Groups({ onChange }: { onChange: () => void }) {
  const [data, err, reload] = useLoad(() => api<Answer<'/oauth/groups', 'get'>>('GET', '/oauth/groups'), [])
  const [perms] = useLoad(() => api<Answer<'/oauth/permissions', 'get'>>('GET', '/oauth/permissions'), [])
  const [form, setForm] = useState({ name: '', description: '', permissions: [] as string[], apps: '' })
  const [actErr, setActErr] = useState<APIError>()
  const save = async (e: Event) => {
    e.preventDefault(); setActErr(undefined)
    const body: Group = { description: form.description, permissions: form.permissions, apps: lines(form.apps) }
    try {
      await api<Answer<'/oauth/groups/{name}', 'put'>>('PUT', '/oauth/groups/' + enc(form.name), body)
      setForm({ name: '', description: '', permissions: [], apps: '' }); reload(); onChange()
    } catch (x) { setActErr(x as APIError) }
  }
  const remove = async (name: string) => {
    if (!confirm(`Delete group ${name}?`)) return
    setActErr(undefined)
    try { await api('DELETE', '/oauth/groups/' + enc(name)); reload(); onChange() } catch (x) { setActErr(x as APIError) }
  }
  return <section aria-labelledby="oauth-groups"><h2 id="oauth-groups">Groups</h2>
    <p>A group is a set of permissions over Latchkey's API, optionally limited to some apps. A token has the permissions of its scopes' groups.</p>
    <ErrorBox err={err || actErr} />
    {data && (data.groups.length === 0 ? <p>No group yet.</p> :
      <table aria-labelledby="oauth-groups" tabIndex={0}><thead><tr><th scope="col">Name</th><th scope="col">Permissions</th><th scope="col">Apps</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.groups.map(g => <tr><td><code>{g.name}</code><br /><span class="hint">{g.description}</span></td>
          <td>{g.permissions.map(p => <code class="chip">{p}</code>)}</td><td>{g.apps?.length ? g.apps.join(', ') : 'all'}</td>
          <td><button type="button" class="link danger" onClick={() => remove(g.name!)}>Delete<span class="sr"> group {g.name}</span></button></td></tr>)}</tbody></table>)}
    <form onSubmit={save}>
      <h3>Add or replace a group</h3>
      <Field id="group-name" label="Name" value={form.name} onInput={v => setForm({ ...form, name: v })} error={actErr?.fieldError('name')} required />
      <Field id="group-description" label="Description" value={form.description} onInput={v => setForm({ ...form, description: v })} error={actErr?.fieldError('description')} />
      <Checks id="group-permissions" legend="Permissions" value={form.permissions} onChange={v => setForm({ ...form, permissions: v })}
        options={(perms?.permissions ?? []).map(p => ({ name: p.name, hint: p.description }))} error={actErr?.fieldError('permissions')} />
      <Field id="group-apps" label="Limit to apps" hint="One app name per line; empty for every app." multiline value={form.apps}
        onInput={v => setForm({ ...form, apps: v })} error={actErr?.fieldError('apps')} />
      <button class="primary" type="submit">Save group</button>
    </form>
  </section>
}

function Scopes({ version, onChange }: { version: number; onChange: () => void }) {
  const [data, err, reload] = useLoad(() => api<Answer<'/oauth/scopes', 'get'>>('GET', '/oauth/scopes'), [version])
  const [groups] = useLoad(() => api<Answer<'/oauth/groups', 'get'>>('GET', '/oauth/groups'), [version])
  const [form, setForm] = useState({ name: '', description: '', groups: [] as string[] })
  const [actErr, setActErr] = useState<APIError>()
  const save = async (e: Event) => {
    e.preventDefault(); setActErr(undefined)
    const body: Scope = { description: form.description, groups: form.groups }
    try {
      await api<Answer<'/oauth/scopes/{name}', 'put'>>('PUT', '/oauth/scopes/' + enc(form.name), body)
      setForm({ name: '', description: '', groups: [] }); reload(); onChange()
    } catch (x) { setActErr(x as APIError) }
  }
  const remove = async (name: string) => {
    if (!confirm(`Delete scope ${name}?`)) return
    setActErr(undefined)
    try { await api('DELETE', '/oauth/scopes/' + enc(name)); reload(); onChange() } catch (x) { setActErr(x as APIError) }
  }
  return <section aria-labelledby="oauth-scopes"><h2 id="oauth-scopes">Scopes</h2>
    <p>What an OAuth app asks for. The description is what a person reads on the authorization page.</p>
    <ErrorBox err={err || actErr} />
    {data && (data.scopes.length === 0 ? <p>No scope yet.</p> :
      <table aria-labelledby="oauth-scopes" tabIndex={0}><thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Groups</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.scopes.map(s => <tr><td><code>{s.name}</code></td><td>{s.description}</td><td>{s.groups.join(', ')}</td>
          <td><button type="button" class="link danger" onClick={() => remove(s.name!)}>Delete<span class="sr"> scope {s.name}</span></button></td></tr>)}</tbody></table>)}
    <form onSubmit={save}>
      <h3>Add or replace a scope</h3>
      <Field id="scope-name" label="Name" value={form.name} onInput={v => setForm({ ...form, name: v })} error={actErr?.fieldError('name')} required />
      <Field id="scope-description" label="Description" hint="At most 139 characters; shown on the authorization page." value={form.description}
        onInput={v => setForm({ ...form, description: v })} error={actErr?.fieldError('description')} required />
      <Checks id="scope-groups" legend="Groups" value={form.groups} onChange={v => setForm({ ...form, groups: v })}
        options={(groups?.groups ?? []).map(g => ({ name: g.name!, hint: g.description }))} error={actErr?.fieldError('groups')} />
      <button class="primary" type="submit">Save scope</button>
    </form>
  </section>
}

function Apps({ version, env }: { version: number; env: string }) {
  const [data, err, reload] = useLoad(() => api<Answer<'/oauth/apps', 'get'>>('GET', '/oauth/apps'), [version])
  const [scopes] = useLoad(() => api<Answer<'/oauth/scopes', 'get'>>('GET', '/oauth/scopes'), [version])
  const empty = { name: '', label: '', description: '', redirect_uri: '', scopes: [] as string[], public: false }
  const [form, setForm] = useState(empty)
  const [created, setCreated] = useState<Answer<'/oauth/apps', 'post', 201>>()
  const [actErr, setActErr] = useState<APIError>()
  const [iconStamp, setIconStamp] = useState(0)
  const create = async (e: Event) => {
    e.preventDefault(); setActErr(undefined); setCreated(undefined)
    try { setCreated(await api<Answer<'/oauth/apps', 'post', 201>>('POST', '/oauth/apps', form)); setForm(empty); reload() } catch (x) { setActErr(x as APIError) }
  }
  const remove = async (name: string) => {
    if (!confirm(`Delete OAuth app ${name}? Its authorizations and tokens end at once.`)) return
    setActErr(undefined)
    try { await api('DELETE', '/oauth/apps/' + enc(name)); reload() } catch (x) { setActErr(x as APIError) }
  }
  const upload = async (name: string, file: File | undefined) => {
    if (!file) return
    setActErr(undefined)
    try { await api('PUT', `/oauth/apps/${enc(name)}/icon`, file, file.type || 'image/png'); setIconStamp(Date.now()); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <section aria-labelledby="oauth-apps"><h2 id="oauth-apps">OAuth apps</h2>
    <p>Tools outside Latchkey that people may authorize. A public app (a CLI, a single-page app) has no secret and must use PKCE; a confidential one gets a secret, shown once.</p>
    <ErrorBox err={err || actErr} />
    {created && <div class="ok" role="status" id="oauth-app-created">
      <p>OAuth app <code>{created.app.name}</code> registered. Client id: <code id="oauth-client-id">{created.app.client_id}</code></p>
      {created.client_secret && <p>Client secret, shown this once: <code id="oauth-client-secret">{created.client_secret}</code></p>}
    </div>}
    {data && (data.apps.length === 0 ? <p>No OAuth app yet.</p> :
      <table aria-labelledby="oauth-apps" tabIndex={0}><thead><tr><th scope="col">Icon</th><th scope="col">App</th><th scope="col">Client id</th><th scope="col">Kind</th><th scope="col">Callback URL</th><th scope="col">Scopes</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.apps.map(a => <tr><td><img class="icon" width={32} height={32} alt="" src={`/${enc(env)}/oauth/apps/${enc(a.client_id)}/icon?v=${iconStamp}`} /></td>
          <td>{a.label}<br /><code>{a.name}</code></td><td><code>{a.client_id}</code></td><td>{a.public ? 'public' : 'confidential'}</td>
          <td><code class="wrap">{a.redirect_uri}</code></td><td>{a.scopes.join(', ')}</td>
          <td><label class="link">Upload icon<span class="sr"> of {a.name}</span><input type="file" accept="image/png,image/jpeg" class="sr"
            onChange={e => upload(a.name, (e.target as HTMLInputElement).files?.[0])} /></label>{' '}
            <button type="button" class="link danger" onClick={() => remove(a.name)}>Delete<span class="sr"> {a.name}</span></button></td></tr>)}</tbody></table>)}
    <form onSubmit={create}>
      <h3>Register an OAuth app</h3>
      <Field id="oauth-app-name" label="Name" value={form.name} onInput={v => setForm({ ...form, name: v })} error={actErr?.fieldError('name')} required />
      <Field id="oauth-app-label" label="Label" hint="Shown on the authorization page." value={form.label} onInput={v => setForm({ ...form, label: v })} error={actErr?.fieldError('label')} required />
      <Field id="oauth-app-description" label="Description" value={form.description} onInput={v => setForm({ ...form, description: v })} error={actErr?.fieldError('description')} />
      <Field id="oauth-app-redirect" label="Authorization callback URL" hint="Matched exactly: https, or http on 127.0.0.1 for a native app." value={form.redirect_uri}
        onInput={v => setForm({ ...form, redirect_uri: v })} error={actErr?.fieldError('redirect_uri')} required />
      <Checks id="oauth-app-scopes" legend="Scopes" value={form.scopes} onChange={v => setForm({ ...form, scopes: v })}
        options={(scopes?.scopes ?? []).map(s => ({ name: s.name!, hint: s.description }))} error={actErr?.fieldError('scopes')} />
      <label class="check"><input type="checkbox" id="oauth-app-public" checked={form.public} onChange={e => setForm({ ...form, public: (e.target as HTMLInputElement).checked })} />
        {' '}Public app (no secret; PKCE required)</label>
      <button class="primary" type="submit">Register</button>
    </form>
  </section>
}

function Authorizations({ version }: { version: number }) {
  const [data, err, reload] = useLoad(() => api<Answer<'/oauth/authorizations', 'get'>>('GET', '/oauth/authorizations'), [version])
  const [actErr, setActErr] = useState<APIError>()
  const revoke = async (id: string, who: string) => {
    if (!confirm(`Revoke ${who}'s authorization? Its tokens stop working at once.`)) return
    setActErr(undefined)
    try { await api('DELETE', '/oauth/authorizations/' + enc(id)); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <section aria-labelledby="oauth-authorizations"><h2 id="oauth-authorizations">Authorizations</h2>
    <ErrorBox err={err || actErr} />
    {data && (data.authorizations.length === 0 ? <p>No one has authorized an OAuth app yet.</p> :
      <table aria-labelledby="oauth-authorizations" tabIndex={0}><thead><tr><th scope="col">Person</th><th scope="col">OAuth app</th><th scope="col">Scopes</th><th scope="col">Authorized</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.authorizations.map(a => <tr><td>{a.subject}</td><td>{a.client_name || a.client_id}</td><td>{a.scopes.join(', ')}</td>
          <td>{fmtTime(a.created_at)}</td><td>{fmtTime(a.last_used_at)}</td><td>{a.revoked_at ? 'revoked ' + fmtTime(a.revoked_at) : 'live'}</td>
          <td>{!a.revoked_at && <button type="button" class="link danger" onClick={() => revoke(a.id, a.subject)}>Revoke<span class="sr"> {a.subject}'s authorization of {a.client_name}</span></button>}</td></tr>)}</tbody></table>)}
  </section>
}

/** OAuthServer is the screen at #/oauth. */
export function OAuthServer({ env }: { env: string }) {
  const [version, setVersion] = useState(0)
  const bump = () => setVersion(version + 1)
  return <>
    <h1>OAuth server</h1>
    <p>Latchkey is also an OAuth provider for its own API: a tool outside Latchkey gets a scoped token a person delegated, instead of an admin API key.</p>
    <Settings />
    <Groups onChange={bump} />
    <Scopes version={version} onChange={bump} />
    <Apps version={version} env={env} />
    <Authorizations version={version} />
  </>
}
