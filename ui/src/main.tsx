import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, currentEnvironment, enc, onUnauthorized, setCSRF, setEnvironment, type Answer, type Schemas } from './api'
import { documentYAML } from './yaml'
import { ErrorBox, Field, fmtTime, fmtTimesIn, useLoad } from './parts'
import { OAuthServer } from './oauthserver'
import { connect, ConnectError } from '../../sdk/js/dist/index.js'
import './style.css'

type Session = Schemas['Session']

// ---------- routing: the hash names the screen ----------
// A screen with unsaved edits sets leaveGuard; a move to another screen
// asks it first, and stays when it says no.
let leaveGuard: (() => boolean) | undefined
function guardLeave(ask?: () => boolean) { leaveGuard = ask }

function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    let current = location.hash
    const on = () => {
      if (location.hash !== current && leaveGuard && !leaveGuard()) {
        history.replaceState(null, '', current || '#/')
        return
      }
      current = location.hash
      setHash(current)
    }
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent)
}
const go = (path: string) => { location.hash = '#/' + path }

// ---------- the editor's building blocks ----------
// ListField edits a list of space-free values (scopes, URLs), one per line
// or separated by spaces. The text is kept as typed, so that a space or a
// new line typed at the end stays; the list is what the text parses to.
function ListField(props: { id: string; label: string; value: string[]; onInput: (v: string[]) => void; error?: string; hint?: string }) {
  const { value, onInput } = props
  const parse = (t: string) => t.split(/\s+/).filter(Boolean)
  const [text, setText] = useState(value.join('\n'))
  // A value from elsewhere (a reload, a removed config) replaces the text;
  // the admin's own typing, which parses to the value, does not.
  useEffect(() => { if (parse(text).join(' ') !== value.join(' ')) setText(value.join('\n')) }, [value.join(' ')])
  return <Field id={props.id} label={props.label} hint={props.hint ?? 'one per line, or separated by spaces'} multiline rows={3} value={text}
    onInput={t => { setText(t); onInput(parse(t)) }} error={props.error} />
}

// fieldTarget is the id of the input that edits the document field a
// server error names (oauth_configs[0].token_url is #c0-token_url).
function fieldTarget(field: string): string | undefined {
  let m = /^oauth_configs\[(\d+)\]\.([a-z_]+)/.exec(field)
  if (m) return `c${m[1]}-${m[2]}`
  m = /^settings\[(\d+)\]\.([a-z_]+)/.exec(field)
  if (m) return `s${m[1]}-${m[2]}`
  return ({ label: 'app-label', description: 'app-description', allowed_return_urls: 'app-returns' } as Record<string, string>)[field.split(/[.[]/)[0]]
}

// ErrorSummary lists every error the server sent: those naming a field
// link to it (where the message is also shown beside it), and those that
// name none are shown here in full, so that no error goes unseen. It takes
// the focus when it appears, scrolled into view, wherever the save was.
function ErrorSummary({ err, id }: { err: APIError; id: string }) {
  useEffect(() => {
    const el = document.getElementById(id)
    el?.focus(); el?.scrollIntoView({ block: 'start' })
  }, [err])
  return <div class="alert" role="alert" id={id} tabIndex={-1}>
    <strong>{err.message}</strong>
    {err.provider && <p>Provider said: <code>{err.provider.code}</code> {err.provider.description}</p>}
    {err.details.length > 0 && <ul>{err.details.map(d => {
      const target = d.field ? fieldTarget(d.field) : undefined
      return <li>{d.field && (target
        ? <a href={'#' + target} onClick={e => { e.preventDefault(); document.getElementById(target)?.focus() }}><code>{d.field}</code></a>
        : <code>{d.field}</code>)}{d.field ? ' ' : ''}{d.message}</li>
    })}</ul>}
  </div>
}


// ---------- sign-in ----------
function SignIn({ onDone, notice }: { onDone: (s: Session) => void; notice?: string }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [err, setErr] = useState<APIError>()
  const submit = async (e: Event) => {
    e.preventDefault()
    try { onDone(await api<Session>('POST', '/session', { email, password })) } catch (x) { setErr(x as APIError) }
  }
  return <main class="narrow" id="main">
    <h1>Sign in to Latchkey</h1>
    {notice && <p class="notice" role="status" id="signin-notice">{notice}</p>}
    <form onSubmit={submit} novalidate>
      {err && !err.details.length && <div class="alert" role="alert">{err.message}</div>}
      <Field id="email" label="Email" type="email" autocomplete="username" value={email} onInput={setEmail} error={err?.fieldError('email')} required />
      <Field id="password" label="Password" type="password" autocomplete="current-password" value={password} onInput={setPassword} error={err?.fieldError('password')} required />
      <button class="primary" type="submit">Sign in</button>
    </form>
    <p class="hint">Accounts are made with <code>latchkey admins create --email you@example.com</code>; the first one is printed when the server first starts.</p>
  </main>
}

// ---------- apps ----------
const sampleDoc = `name: my-app
label: My app
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: provider
    label: Provider
    link_url: "https://provider.example/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}&response_type=code"
    token_url: https://provider.example/token
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

function Apps() {
  const [data, err, reload] = useLoad(() => api<Answer<'/apps', 'get'>>('GET', '/apps'), [])
  const [doc, setDoc] = useState(sampleDoc)
  const [createErr, setCreateErr] = useState<unknown>()
  const create = async (e: Event) => {
    e.preventDefault()
    setCreateErr(undefined)
    const m = /^name:\s*["']?([a-z0-9_-]+)/m.exec(doc)
    if (!m) { setCreateErr(new APIError(422, 'invalid', 'The document needs a name: line', [{ field: 'name', message: 'is required' }])); return }
    // If-None-Match: * makes the PUT a create: an app of the name that
    // exists already is refused (409, naming the field name), not replaced.
    try { await api('PUT', '/apps/' + enc(m[1]), doc, 'application/yaml', { 'If-None-Match': '*' }); reload(); go('apps/' + m[1]) } catch (x) { setCreateErr(x) }
  }
  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0]
    if (f) setDoc(await f.text())
  }
  return <>
    <h1>Apps</h1>
    <ErrorBox err={err} />
    {data && (data.apps.length === 0 ? <p>No app yet. Create one below.</p> :
      <table><caption class="sr">Apps</caption><thead><tr><th scope="col">Name</th><th scope="col">Label</th><th scope="col">OAuth configs</th><th scope="col">Revision</th></tr></thead>
        <tbody>{data.apps.map(a => <tr><td><a href={'#/apps/' + enc(a.name ?? '')}>{a.name}</a></td><td>{a.label}</td>
          <td>{(a.oauth_configs || []).map((c: any) => c.name).join(', ')}</td><td>{a.revision}</td></tr>)}</tbody></table>)}
    <section aria-labelledby="new-app">
      <h2 id="new-app">Create or import an app</h2>
      <form onSubmit={create}>
        <div class="field"><label for="import-file">Import a YAML or JSON file</label>
          <input id="import-file" type="file" accept=".yaml,.yml,.json,application/json,application/yaml" onChange={onFile} /></div>
        <Field id="app-doc" label="App document (YAML, the format of latchkey apply)" multiline value={doc} onInput={setDoc} />
        <ErrorBox err={createErr} />
        <button class="primary" type="submit">Create app</button>
      </form>
    </section>
  </>
}

const configFields: [string, string, string?][] = [
  ['name', 'Name'], ['label', 'Label', 'shown on the landing page'], ['description', 'Description'], ['logo_url', 'Logo URL', '64×64 on the landing page'],
  ['grant_type', 'Grant type', 'authorization_code (default) or client_credentials'],
  ['link_url', 'Link URL', 'the provider\'s authorization URL; a template'], ['token_url', 'Token URL'], ['refresh_token_url', 'Refresh token URL'],
  ['revocation_url', 'Revocation URL', 'called on disconnect (RFC 7009)'],
  ['request_body', 'Request body', 'a JSON object template: the code exchange parameters'], ['refresh_token_body', 'Refresh token body'],
  ['request_encoding', 'Request encoding', 'form (default), json or query'], ['client_auth', 'Client authentication', 'body (default), basic or none'],
  ['client_id', 'Client id template', 'default {{client_id}}'], ['client_secret', 'Client secret template', 'default {{client_secret}}'],
  ['scope_separator', 'Scope separator', 'a space (default), "," or "+"'],
  ['extraction_path_auth_code', 'Extraction path: auth code'], ['extraction_path_access_token', 'Extraction path: access token'],
  ['extraction_path_refresh_token', 'Extraction path: refresh token'], ['extraction_path_expires_in', 'Extraction path: expires in'],
  ['extraction_path_expires_at', 'Extraction path: expires at'], ['extraction_path_scope', 'Extraction path: scope'],
  ['extraction_path_token_type', 'Extraction path: token type'], ['extraction_path_id_token', 'Extraction path: id token'],
  ['extraction_path_error', 'Extraction path: error'], ['extraction_path_error_description', 'Extraction path: error description'],
  ['success_condition', 'Success condition', 'an expression over the token response, such as $.ok'],
  ['access_token_variable_name', 'Access token variable name'], ['refresh_token_variable_name', 'Refresh token variable name'],
  ['refresh_margin', 'Refresh margin', 'such as 5m'],
  ['keep_alive_interval', 'Keep-alive interval', 'refresh idle connections this often, such as 720h'],
  ['refresh_token_grace_period', 'Refresh token grace period', 'how long a rotated refresh token still works, such as 1m'],
]
const jsonFields = ['auth_params', 'token_headers', 'values', 'metadata']

// ---------- playground and test connection of an OAuth config ----------
type Preview = Schemas['Preview']

function Playground({ app, cfg, settings, p }: { app: string; cfg: any; settings: any[]; p: string }) {
  const names = settings.map(s => s.name).filter((n: string) => n && n !== cfg.access_token_variable_name && n !== cfg.refresh_token_variable_name)
  const [values, setValues] = useState<Record<string, string>>({})
  const [preview, setPreview] = useState<Preview>()
  const [renderErr, setRenderErr] = useState<unknown>()
  const [x, setX] = useState({ path: cfg.extraction_path_access_token || '$.access_token', response: '', content_type: 'application/json' })
  const [extracted, setExtracted] = useState<string>()
  const [xErr, setXErr] = useState<APIError>()
  const secret = (n: string) => !!settings.find(s => s.name === n)?.secret
  const render = async () => {
    setRenderErr(undefined); setPreview(undefined)
    try { setPreview(await api<Preview>('POST', `/apps/${enc(app)}/playground/render`, { config: cfg, values })) } catch (e) { setRenderErr(e) }
  }
  const run = async () => {
    setXErr(undefined); setExtracted(undefined)
    try { setExtracted((await api<Answer<'/playground/extract', 'post'>>('POST', '/playground/extract', x)).value) } catch (e) { setXErr(e as APIError) }
  }
  const tr = preview?.token_request
  return <details class="panel">
    <summary>Playground: render the link and the token request</summary>
    <p class="hint">Sample values only: nothing is sent to the provider and nothing is saved. Secrets come back masked.</p>
    <div class="grid">
      {names.map((n: string) => <Field id={`${p}pg-${n}`} label={n} type={secret(n) ? 'password' : 'text'} autocomplete="off"
        value={values[n] || ''} onInput={v => setValues({ ...values, [n]: v })} />)}
    </div>
    <button type="button" onClick={render}>Render</button>
    <ErrorBox err={renderErr} />
    {tr && <div class="output" role="status">
      {preview?.link_url && <><h3>Link URL</h3><pre id={`${p}pg-link`}>{preview.link_url}</pre></>}
      <h3>Token request</h3>
      <pre id={`${p}pg-token`}>{`${tr.method} ${tr.url}\n` + Object.entries(tr.headers).map(([k, v]) => `${k}: ${v}`).join('\n') + (tr.body ? '\n\n' + tr.body : '')}</pre>
      {tr.basic_auth_user && <p class="hint">HTTP Basic user: <code>{tr.basic_auth_user}</code>; the password is the client secret.</p>}
    </div>}
    <h3>Try an extraction path</h3>
    <div class="grid">
      <Field id={`${p}x-path`} label="Extraction path" hint="JSONPath, such as $.authed_user.access_token" value={x.path} onInput={v => setX({ ...x, path: v })} error={xErr?.fieldError('path')} />
      <div class="field"><label for={`${p}x-type`}>Content type of the response</label>
        <select id={`${p}x-type`} value={x.content_type} onChange={e => setX({ ...x, content_type: (e.target as HTMLSelectElement).value })}>
          <option value="application/json">application/json</option><option value="application/x-www-form-urlencoded">application/x-www-form-urlencoded</option>
          <option value="text/plain">text/plain</option></select></div>
    </div>
    <Field id={`${p}x-response`} label="Provider's response" hint="paste the body of a token response" multiline value={x.response}
      onInput={v => setX({ ...x, response: v })} error={xErr?.fieldError('response')} />
    <button type="button" onClick={run}>Run path</button>
    {xErr && !xErr.details.length && <div class="alert" role="alert">{xErr.message}</div>}
    {extracted !== undefined && <p role="status">Extracted: <code id={`${p}x-value`}>{extracted}</code></p>}
  </details>
}

type Step = { label: string; state: 'done' | 'waiting' | 'failed'; detail?: string }

function TestConnection({ app, cfg, p }: { app: string; cfg: any; p: string }) {
  const [org, setOrg] = useState('')
  const [user, setUser] = useState('test-user')
  const [steps, setSteps] = useState<Step[]>([])
  const [err, setErr] = useState<APIError>()
  const start = async () => {
    setErr(undefined)
    let shown: Step[] = []
    const show = (s: Step[]) => { shown = s; setSteps(s) }
    show([{ label: 'Create a link', state: 'waiting', detail: `POST …/orgs/${org}/users/${user}/connections/${cfg.name}/link {"popup": true}` }])
    let created: Step | undefined
    const failed = (detail: string, callback?: Step) =>
      show([...(created ? [created] : []), { label: 'Authorization', state: 'failed', detail }, ...(callback ? [callback] : [])])
    try {
      // The connect SDK opens the popup on the click itself, then asks for the link.
      await connect({
        popup: { width: 600, height: 720 },
        url: async () => {
          const link = await api<Answer<'/apps/{app}/orgs/{org}/users/{user}/connections/{config}/link', 'post', 201>>('POST', `/apps/${enc(app)}/orgs/${enc(org)}/users/${enc(user)}/connections/${enc(cfg.name)}/link`, { popup: true })
          created = { label: 'Link created', state: 'done', detail: `201: a link to the landing page, valid until ${fmtTime(link.expires_at)}` }
          show([created, { label: 'Authorization', state: 'waiting', detail: 'In the popup window: allow access, then sign in at the provider.' }])
          return link.url
        },
      })
    } catch (x) {
      if (!(x instanceof ConnectError)) {
        setErr(x as APIError)
        show([{ label: 'Create a link', state: 'failed', detail: (x as APIError).message }]); return
      }
      if (x.code === 'popup_blocked') failed('The browser blocked the popup window: allow popups for this site and try again.')
      else if (x.code === 'popup_closed') failed('The popup window was closed before the flow finished.')
      else if (x.code === 'cancelled') failed('The user cancelled on the landing page; nothing was shared.')
      else failed('The popup reported a failure.', { label: 'Callback result', state: 'failed',
        detail: `error ${x.code}` + (x.providerError ? `; the provider said ${x.providerError}` : '') })
      return
    }
    show([created!, { label: 'Authorization', state: 'done', detail: 'The provider sent the user back to Latchkey.' },
      { label: 'Callback result', state: 'done', detail: 'connected: the token was exchanged and stored' }])
    try {
      const list = await api<Answer<'/apps/{app}/connections', 'get'>>('GET', `/apps/${enc(app)}/connections?org=${enc(org)}`)
      const c = list.connections.find(c => c.user === user && c.config === cfg.name)
      if (c) show([...shown, { label: 'Connection', state: 'done', detail: `status ${c.status}, expires ${fmtTime(c.expires_at)}` }])
    } catch { /* the outcome is already shown */ }
    if (cfg.verify_api) {
      // The config's check: its API called with the new token.
      try {
        const v = await api<Answer<'/apps/{app}/orgs/{org}/users/{user}/connections/{config}/verify', 'post'>>('POST',
          `/apps/${enc(app)}/orgs/${enc(org)}/users/${enc(user)}/connections/${enc(cfg.name)}/verify`)
        show([...shown, { label: `Check (${cfg.verify_api})`, state: v.ok ? 'done' : 'failed',
          detail: (v.status ? `the provider answered ${v.status}` : 'no answer') + (v.error ? `: ${v.error}` : '') +
            (v.stored?.length ? `; stored ${v.stored.join(', ')}` : '') }])
      } catch (x) {
        show([...shown, { label: `Check (${cfg.verify_api})`, state: 'failed', detail: (x as APIError).message }])
      }
    }
  }
  return <details class="panel">
    <summary>Test connection: run the real flow in a popup</summary>
    <p class="hint">Uses the saved version of this config. The link needs the org's required settings: those the org set when it installed the app, or the settings' defaults; an org that never installed can test only when defaults cover them. The test user's connection is real and can be disconnected afterwards.</p>
    <div class="inline">
      <Field id={`${p}t-org`} label="Org id" value={org} onInput={setOrg} required error={err?.fieldError('org')} />
      <Field id={`${p}t-user`} label="User id" value={user} onInput={setUser} required error={err?.fieldError('user')} />
      <button type="button" onClick={start} disabled={!org || !user || !cfg.name}>Test connection</button>
    </div>
    {steps.length > 0 && <ol class="steps" aria-live="polite" id={`${p}t-steps`}>
      {steps.map(s => <li class={'step-' + s.state}><strong>{s.label}</strong>: {s.state === 'waiting' ? 'in progress' : s.state === 'done' ? 'done' : 'failed'}
        {s.detail && <><br /><span class="hint">{s.detail}</span></>}</li>)}
    </ol>}
  </details>
}

function ConfigEditor({ app, settings, cfg, index, err, onChange, onRemove }: { app: string; settings: any[]; cfg: any; index: number; err?: APIError; onChange: (c: any) => void; onRemove: () => void }) {
  const [json, setJSON] = useState<Record<string, string>>(() => Object.fromEntries(jsonFields.map(f => [f, cfg[f] ? JSON.stringify(cfg[f], null, 2) : ''])))
  const [jsonErr, setJSONErr] = useState<Record<string, string>>({})
  const fe = (f: string) => err?.fieldError(`oauth_configs[${index}].${f}`)
  const set = (f: string, v: string) => onChange({ ...cfg, [f]: v })
  const setJ = (f: string, v: string) => {
    setJSON({ ...json, [f]: v })
    try { onChange({ ...cfg, [f]: v.trim() ? JSON.parse(v) : undefined }); setJSONErr({ ...jsonErr, [f]: '' }) } catch { setJSONErr({ ...jsonErr, [f]: 'is not valid JSON' }) }
  }
  const p = `c${index}-`
  return <fieldset class="config">
    <legend>OAuth config {cfg.name || index + 1}</legend>
    <p><button type="button" class="link danger" id={p + 'remove'} onClick={onRemove}>Remove this OAuth config<span class="sr"> {cfg.name || index + 1}</span></button>
      <span class="hint"> (taken out of the document when you save)</span></p>
    <div class="grid">
      {configFields.map(([f, label, hint]) => <Field id={p + f} label={label} hint={hint} value={cfg[f] ?? ''} onInput={v => set(f, v)} error={fe(f)}
        multiline={f.endsWith('_body')} />)}
      <ListField id={p + 'scopes'} label="Scopes" value={cfg.scopes || []} onInput={v => onChange({ ...cfg, scopes: v })} error={fe('scopes')} />
      <div class="field"><label for={p + 'pkce'}>PKCE (RFC 7636)</label>
        <select id={p + 'pkce'} value={cfg.pkce === false ? 'off' : 'on'} onChange={e => onChange({ ...cfg, pkce: (e.target as HTMLSelectElement).value === 'on' ? undefined : false })}>
          <option value="on">on (S256)</option><option value="off">off</option></select></div>
      {jsonFields.map(f => <Field id={p + f} label={f.replace('_', ' ')} hint="JSON" multiline value={json[f]} onInput={v => setJ(f, v)} error={jsonErr[f] || fe(f)} />)}
    </div>
    <Playground app={app} cfg={cfg} settings={settings} p={p} />
    {(cfg.grant_type || 'authorization_code') === 'authorization_code' && <TestConnection app={app} cfg={cfg} p={p} />}
  </fieldset>
}

function SettingsEditor({ settings, err, onChange }: { settings: any[]; err?: APIError; onChange: (s: any[]) => void }) {
  const set = (i: number, k: string, v: any) => onChange(settings.map((s, j) => j === i ? { ...s, [k]: v } : s))
  return <fieldset><legend>Settings</legend>
    <table class="settings"><thead><tr><th scope="col">Name</th><th scope="col">Level</th><th scope="col">Secret</th><th scope="col">Required</th><th scope="col">Description</th><th scope="col">Default</th><th scope="col"><span class="sr">Remove</span></th></tr></thead>
      <tbody>{settings.map((s, i) => {
        const fe = (f: string) => err?.fieldError(`settings[${i}].${f}`)
        return <tr>
          <td><input id={`s${i}-name`} aria-label={`setting ${i + 1} name`} value={s.name} onInput={e => set(i, 'name', (e.target as HTMLInputElement).value)} aria-invalid={fe('name') ? 'true' : undefined} />
            {fe('name') && <p class="field-error">{fe('name')}</p>}</td>
          <td><select id={`s${i}-level`} aria-label={`setting ${i + 1} level`} value={s.level} onChange={e => set(i, 'level', (e.target as HTMLSelectElement).value)}><option value="org">org</option><option value="user">user</option></select>
            {fe('level') && <p class="field-error">{fe('level')}</p>}</td>
          <td><input type="checkbox" aria-label={`setting ${i + 1} secret`} checked={!!s.secret} onChange={e => set(i, 'secret', (e.target as HTMLInputElement).checked)} /></td>
          <td><input type="checkbox" aria-label={`setting ${i + 1} required`} checked={!!s.required} onChange={e => set(i, 'required', (e.target as HTMLInputElement).checked)} /></td>
          <td><input id={`s${i}-description`} aria-label={`setting ${i + 1} description`} value={s.description || ''} onInput={e => set(i, 'description', (e.target as HTMLInputElement).value)} /></td>
          <td><input id={`s${i}-default`} aria-label={`setting ${i + 1} default`} value={s.default || ''} onInput={e => set(i, 'default', (e.target as HTMLInputElement).value)} /></td>
          <td><button type="button" class="link" onClick={() => onChange(settings.filter((_, j) => j !== i))}>Remove<span class="sr"> setting {s.name}</span></button></td>
        </tr>
      })}</tbody></table>
    <button type="button" onClick={() => onChange([...settings, { name: '', level: 'org' }])}>Add a setting</button>
  </fieldset>
}

let nextEditorKey = 1

function AppPage({ name }: { name: string }) {
  const [app, loadErr, reload] = useLoad(() => api<any>('GET', '/apps/' + enc(name)), [name])
  const [draft, setDraft] = useState<any>()
  const [err, setErr] = useState<APIError>()
  const [saved, setSaved] = useState('')
  // Each OAuth config's editor keeps its key when another one is removed.
  const [keys, setKeys] = useState<number[]>([])
  useEffect(() => {
    if (!app) return
    setDraft(structuredClone(app)); setKeys((app.oauth_configs || []).map(() => nextEditorKey++))
  }, [app])
  const dirty = !!app && !!draft && JSON.stringify(draft) !== JSON.stringify(app)
  useEffect(() => {
    if (!dirty) return
    guardLeave(() => confirm(`Leave the editor of ${name}? Your unsaved changes will be lost.`))
    const unload = (e: BeforeUnloadEvent) => { e.preventDefault(); e.returnValue = '' }
    addEventListener('beforeunload', unload)
    return () => { guardLeave(undefined); removeEventListener('beforeunload', unload) }
  }, [dirty, name])
  if (loadErr) return <ErrorBox err={loadErr} />
  if (!draft) return <p>Loading…</p>
  const save = async (e: Event) => {
    e.preventDefault(); setErr(undefined); setSaved('')
    const { revision, created_at, updated_at, ...doc } = draft
    const put = async (query: string) => {
      const a = await api<Answer<'/apps/{app}', 'put'>>('PUT', '/apps/' + enc(name) + query, doc); setSaved(`Saved: revision ${a.revision}.`); reload()
    }
    try { await put('') } catch (x) {
      const e = x as APIError
      // A removed OAuth config still has connections: delete them only when
      // the admin says so.
      if (e.status === 409 && e.details.some(d => d.field === 'oauth_configs') &&
        confirm(e.details.map(d => 'This change ' + d.message + '.').join('\n') + '\n\nDelete those connections (their tokens are not revoked) and save?')) {
        try { await put('?delete_connections=true') } catch (y) { setErr(y as APIError) }
      } else setErr(e)
    }
  }
  const remove = async () => {
    if (!confirm(`Delete app ${name} with its installations and connections?`)) return
    try { await api('DELETE', '/apps/' + enc(name)); guardLeave(undefined); go('apps') } catch (x) { setErr(x as APIError) }
  }
  const exportYAML = () => {
    const url = URL.createObjectURL(new Blob([documentYAML(app)], { type: 'application/yaml' }))
    const a = document.createElement('a'); a.href = url; a.download = name + '.yaml'; a.click(); URL.revokeObjectURL(url)
  }
  return <>
    <h1>App {name}</h1>
    <p><a href={`#/apps/${enc(name)}/orgs`}>Org installs</a> · <a href={`#/apps/${enc(name)}/connections`}>Connections</a> ·{' '}
      <button type="button" class="link" onClick={exportYAML}>Export YAML</button> · <button type="button" class="link danger" onClick={remove}>Delete app</button></p>
    <form onSubmit={save} novalidate>
      {err && <ErrorSummary err={err} id="save-summary" />}
      <div class="grid">
        <Field id="app-label" label="Label" value={draft.label || ''} onInput={v => setDraft({ ...draft, label: v })} error={err?.fieldError('label')} />
        <Field id="app-description" label="Description" value={draft.description || ''} onInput={v => setDraft({ ...draft, description: v })} error={err?.fieldError('description')} />
        <ListField id="app-returns" label="Allowed return URLs" value={draft.allowed_return_urls || []}
          onInput={v => setDraft({ ...draft, allowed_return_urls: v })} error={err?.fieldError('allowed_return_urls')} />
      </div>
      <SettingsEditor settings={draft.settings || []} err={err} onChange={s => setDraft({ ...draft, settings: s })} />
      {(draft.oauth_configs || []).map((c: any, i: number) => <ConfigEditor key={keys[i]} app={name} settings={draft.settings || []} cfg={c} index={i} err={err}
        onChange={nc => setDraft({ ...draft, oauth_configs: draft.oauth_configs.map((x: any, j: number) => j === i ? nc : x) })}
        onRemove={() => { setDraft({ ...draft, oauth_configs: draft.oauth_configs.filter((_: any, j: number) => j !== i) }); setKeys(keys.filter((_, j) => j !== i)) }} />)}
      <p><button type="button" onClick={() => { setDraft({ ...draft, oauth_configs: [...(draft.oauth_configs || []), { name: '' }] }); setKeys([...keys, nextEditorKey++]) }}>Add an OAuth config</button></p>
      <div class="actions save-bar">
        <button class="primary" type="submit">Save app</button>
        <span role="status" id="save-status" class={saved ? 'ok' : err ? 'field-error' : 'hint'}>
          {saved || (err ? `Not saved: ${err.details.length || 1} error(s), listed at the top.` : dirty ? 'Unsaved changes.' : '')}</span>
      </div>
    </form>
    <Promote name={name} />
  </>
}

// Promote copies the saved document to another environment: first the
// difference, then, when the admin says so, the copy. Org values,
// connections and keys stay where they are.
function Promote({ name }: { name: string }) {
  const [envs, setEnvs] = useState<string[]>([])
  const [to, setTo] = useState('')
  const [diff, setDiff] = useState<{ diff: string; changed: boolean; applied: boolean; revision?: number }>()
  const [err, setErr] = useState<APIError>()
  useEffect(() => {
    api<{ environments: { name: string }[] }>('GET', '/environments').then(r => {
      const others = r.environments.map(e => e.name).filter(n => n !== currentEnvironment())
      setEnvs(others); setTo(others[0] || '')
    }, () => setEnvs([]))
  }, [name])
  if (envs.length === 0) return null
  const run = async (apply: boolean) => {
    setErr(undefined)
    try { setDiff(await api<any>('POST', '/apps/' + enc(name) + '/promote', { to, apply })) } catch (x) { setErr(x as APIError) }
  }
  return <section aria-labelledby="promote-h">
    <h2 id="promote-h">Promote to another environment</h2>
    <p>Copies this app's saved document from {currentEnvironment()}; org values, connections and keys are not copied.</p>
    <label for="promote-to">To</label>{' '}
    <select id="promote-to" value={to} onChange={e => { setTo((e.target as HTMLSelectElement).value); setDiff(undefined) }}>
      {envs.map(n => <option value={n}>{n}</option>)}
    </select>{' '}
    <button type="button" onClick={() => run(false)}>Show changes</button>
    {err && <div class="alert" role="alert"><strong>{err.message}</strong></div>}
    {diff && !diff.applied && <>
      {diff.changed ? <pre id="promote-diff" tabIndex={0} aria-label="Changes to the document">{diff.diff}</pre> : <p role="status">The document in {to} is the same.</p>}
      {diff.changed && <p><button type="button" class="primary" onClick={() => run(true)}>Promote to {to}</button></p>}
    </>}
    {diff?.applied && <p class="ok" role="status">Promoted: revision {diff.revision} in {to}.</p>}
  </section>
}

function Orgs({ name }: { name: string }) {
  const [data, err, reload] = useLoad(() => api<Answer<'/apps/{app}/orgs', 'get'>>('GET', `/apps/${enc(name)}/orgs`), [name])
  const [org, setOrg] = useState('')
  const [link, setLink] = useState('')
  const [actErr, setActErr] = useState<APIError>()
  const [links, linksErr, reloadLinks] = useLoad(() => api<Answer<'/apps/{app}/install-links', 'get'>>('GET', `/apps/${enc(name)}/install-links`), [name])
  // An org whose required settings all have defaults connects without
  // installing: it is listed here too, so that this page and Connections
  // tell the same story.
  const [conns] = useLoad(() => api<Answer<'/apps/{app}/connections', 'get'>>('GET', `/apps/${enc(name)}/connections`), [name])
  const installed = new Set((data?.installations || []).map(i => i.org))
  const uninstalled = data && conns ? [...new Set(conns.connections.map(c => c.org))].filter(o => !installed.has(o)).sort() : []
  const issue = async (e: Event) => {
    e.preventDefault(); setActErr(undefined); setLink('')
    try { setLink((await api<any>('POST', `/apps/${enc(name)}/orgs/${enc(org)}/install-link`)).url); reloadLinks() } catch (x) { setActErr(x as APIError) }
  }
  const revoke = async (id: string, o: string) => {
    if (!confirm(`Revoke the install link for ${o}? It will no longer open the install prompt.`)) return
    setActErr(undefined)
    try { await api('DELETE', `/apps/${enc(name)}/install-links/${enc(id)}`); reloadLinks() } catch (x) { setActErr(x as APIError) }
  }
  const uninstall = async (o: string) => {
    if (!confirm(`Uninstall ${name} for ${o}? Its users' connections are deleted.`)) return
    try { await api('DELETE', `/apps/${enc(name)}/orgs/${enc(o)}`); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <>
    <h1>Org installs of {name}</h1>
    <p><a href={'#/apps/' + enc(name)}>Back to the app</a></p>
    <ErrorBox err={err} />
    {data && (data.installations.length === 0 ? <p>No org has installed this app.</p> :
      <table><thead><tr><th scope="col">Org</th><th scope="col">Values (secrets masked)</th><th scope="col">Updated</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.installations.map(i => <tr><td>{i.org}</td>
          <td><dl class="values">{Object.entries(i.values || {}).map(([k, v]) => <><dt>{k}</dt><dd><code>{String(v)}</code></dd></>)}</dl></td>
          <td>{fmtTime(i.updated_at)}</td><td><button type="button" class="link danger" onClick={() => uninstall(i.org)}>Uninstall<span class="sr"> {i.org}</span></button></td></tr>)}</tbody></table>)}
    {uninstalled.length > 0 && <section aria-labelledby="uninstalled-h"><h2 id="uninstalled-h">Connected without installing</h2>
      <p>These orgs have connections but never installed the app: their links use the settings' defaults. See them under <a href={`#/apps/${enc(name)}/connections`}>Connections</a>.</p>
      <ul id="orgs-uninstalled">{uninstalled.map(o => <li><code>{o}</code></li>)}</ul></section>}
    <section aria-labelledby="install-link"><h2 id="install-link">Install link</h2>
      <p>An org fills its settings through a link that works once and expires in an hour. Anyone holding it can set the org's client credentials: send it only to the org's admin, and revoke it if it went astray.</p>
      <form onSubmit={issue} class="inline">
        <Field id="install-org" label="Org id" value={org} onInput={setOrg} error={actErr?.fieldError('org')} required />
        <button class="primary" type="submit">Create install link</button>
      </form>
      <ErrorBox err={actErr} />
      {link && <p class="ok" role="status">Install link (shown once): <a href={link} id="install-link-url" target="_blank" rel="noreferrer">{link}</a></p>}
      <h3 id="install-links">Issued links</h3>
      <ErrorBox err={linksErr} />
      {links && (links.install_links.length === 0 ? <p>No install link has been issued.</p> :
        <table aria-labelledby="install-links" tabIndex={0}><thead><tr><th scope="col">Org</th><th scope="col">State</th><th scope="col">Issued</th><th scope="col">Expires</th><th scope="col">Issued by</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
          <tbody>{links.install_links.map(l => <tr id={'install-link-' + l.id}><td>{l.org}</td><td class="install-link-state">{l.state}</td>
            <td>{fmtTime(l.created_at)}</td><td>{fmtTime(l.expires_at)}</td><td><code>{l.created_by}</code></td>
            <td>{l.state === 'pending' && <button type="button" class="link danger" onClick={() => revoke(l.id, l.org)}>Revoke<span class="sr"> the link for {l.org}</span></button>}</td></tr>)}</tbody></table>)}
    </section>
  </>
}

function Connections({ name }: { name: string }) {
  const [org, setOrg] = useState('')
  const [data, err, reload] = useLoad(() => api<Answer<'/apps/{app}/connections', 'get'>>('GET', `/apps/${enc(name)}/connections` + (org ? '?org=' + enc(org) : '')), [name, org])
  const [msg, setMsg] = useState('')
  const [actErr, setActErr] = useState<APIError>()
  const path = (c: any) => c.user ? `/apps/${enc(name)}/orgs/${enc(c.org)}/users/${enc(c.user)}/connections/${enc(c.config)}` : `/apps/${enc(name)}/orgs/${enc(c.org)}/connections/${enc(c.config)}`
  const refresh = async (c: any) => {
    setActErr(undefined); setMsg('')
    // The refresh route refreshes whether or not the token is due and
    // answers the connection without its token: none reaches the browser.
    try {
      const r = await api<Schemas['Connection']>('POST', path(c) + '/refresh')
      setMsg(`${c.user || c.org}/${c.config}: refreshed ${fmtTime(r.refreshed_at)}; ${r.status}, expires ${fmtTime(r.expires_at)}`); reload()
    } catch (x) { setActErr(x as APIError); reload() }
  }
  const disconnect = async (c: any) => {
    if (!confirm(`Disconnect ${c.user || c.org} from ${c.config}?`)) return
    try { await api('DELETE', path(c)); reload() } catch (x) { setActErr(x as APIError) }
  }
  return <>
    <h1>Connections of {name}</h1>
    <p><a href={'#/apps/' + enc(name)}>Back to the app</a></p>
    <Field id="conn-org" label="Filter by org" value={org} onInput={setOrg} />
    <ErrorBox err={err || actErr} />
    {msg && <p class="ok" role="status">{msg}</p>}
    {data && (data.connections.length === 0 ? <p>No connection yet.</p> :
      <table><thead><tr><th scope="col">Org</th><th scope="col">User</th><th scope="col">Config</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Last refresh</th><th scope="col">Last error</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>{data.connections.map(c => <tr><td>{c.org}</td><td>{c.user || '(org)'}</td><td>{c.config}</td>
          <td><span class={'status status-' + c.status}>{c.status}</span></td><td>{fmtTime(c.expires_at)}</td><td>{fmtTime(c.refreshed_at)}</td><td>{c.last_error || '—'}</td>
          <td><button type="button" class="link" onClick={() => refresh(c)}>Refresh now</button> <button type="button" class="link danger" onClick={() => disconnect(c)}>Disconnect</button></td></tr>)}</tbody></table>)}
  </>
}

function APIKeys() {
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

function Audit() {
  const [app, setApp] = useState('')
  const [data, err] = useLoad(() => api<Answer<'/audit', 'get'>>('GET', '/audit?limit=200' + (app ? '&app=' + enc(app) : '')), [app])
  return <>
    <h1>Audit log</h1>
    <Field id="audit-app" label="Filter by app" value={app} onInput={setApp} />
    <ErrorBox err={err} />
    {data && <table><thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">App</th><th scope="col">Org</th><th scope="col">User</th><th scope="col">Config</th><th scope="col">Detail</th></tr></thead>
      <tbody>{data.events.map(e => <tr><td>{fmtTime(e.time)}</td><td>{e.actor}</td><td>{e.action}</td><td>{e.app}</td><td>{e.org}</td><td>{e.user}</td><td>{e.config}</td><td>{fmtTimesIn(e.detail)}</td></tr>)}</tbody></table>}
  </>
}

// resumeNext goes back to the page that sent the person to sign in (the
// OAuth server's authorization page: /ui/?next=/dev/oauth/authorize?…),
// when it is a path of this origin, and reports whether it did.
function resumeNext(): boolean {
  const next = new URLSearchParams(location.search).get('next')
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return false
  const u = new URL(next, location.origin)
  if (u.origin !== location.origin || !/^\/[a-z0-9][a-z0-9_-]{0,62}\/oauth\/authorize$/.test(u.pathname)) return false
  location.assign(u.pathname + u.search)
  return true
}

// ---------- the shell ----------
function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  const route = useRoute()
  const [env, setEnv] = useState(currentEnvironment())
  const [envs, setEnvs] = useState<string[]>([])
  const [notice, setNotice] = useState('')
  useEffect(() => {
    if (!session) return
    onUnauthorized(() => { guardLeave(undefined); setNotice('Your session has ended: sign in again.'); setSession(null) })
    return () => onUnauthorized(undefined)
  }, [session])
  useEffect(() => {
    api<Session>('GET', '/session').then(s => { setCSRF(s.csrf_token); setSession(s) }, () => setSession(null))
  }, [])
  useEffect(() => {
    if (!session) return
    api<{ environments: { name: string }[] }>('GET', '/environments').then(r => {
      const names = r.environments.map(e => e.name)
      setEnvs(names)
      if (names.length && !names.includes(currentEnvironment())) { setEnvironment(names[0]); setEnv(names[0]) }
    }, () => setEnvs([]))
  }, [session])
  useEffect(() => { (window as any).__latchkeyReady = performance.now() }, [session])
  if (session === undefined) return <main id="main"><p>Loading…</p></main>
  if (session === null) return <SignIn notice={notice} onDone={s => { setCSRF(s.csrf_token); setNotice(''); setSession(s); if (!resumeNext() && !notice) go('apps') }} />
  const signOut = async () => { await api('DELETE', '/session').catch(() => { }); setSession(null) }
  const [top, name, sub] = route
  let page
  if (top === 'apps' && name && sub === 'orgs') page = <Orgs name={name} />
  else if (top === 'apps' && name && sub === 'connections') page = <Connections name={name} />
  else if (top === 'apps' && name) page = <AppPage name={name} />
  else if (top === 'keys') page = <APIKeys />
  else if (top === 'audit') page = <Audit />
  else if (top === 'oauth') page = <OAuthServer env={env} />
  else page = <Apps />
  return <>
    <a class="skip" href="#main" onClick={e => { e.preventDefault(); document.getElementById('main')?.focus() }}>Skip to content</a>
    <header><span class="brand">Latchkey</span>
      <nav aria-label="Main"><a href="#/apps" aria-current={!top || top === 'apps' ? 'page' : undefined}>Apps</a><a href="#/keys" aria-current={top === 'keys' ? 'page' : undefined}>API keys</a>
        <a href="#/audit" aria-current={top === 'audit' ? 'page' : undefined}>Audit log</a>
        <a href="#/oauth" aria-current={top === 'oauth' ? 'page' : undefined}>OAuth server</a></nav>
      <label class="env">Environment{' '}
        <select value={env} onChange={e => { const v = (e.target as HTMLSelectElement).value; setEnvironment(v); setEnv(v) }}>
          {(envs.length ? envs : [env]).map(n => <option value={n}>{n}</option>)}
        </select></label>
      <span class="who">{session.email} <button type="button" class="link" onClick={signOut}>Sign out</button></span></header>
    <main id="main" tabIndex={-1} key={env}>{page}</main>
  </>
}

render(<App />, document.getElementById('app')!)
