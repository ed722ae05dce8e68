// The app editor: the app's fields, its settings, each OAuth config with
// its playground and test, saved as one document.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, enc, type Answer } from '../api'
import { go, guardLeave } from '../router'
import { documentYAML } from '../yaml'
import { ErrorBox, ErrorSummary, Field, ListField, useLoad } from '../parts'
import { Playground } from './playground'
import { TestConnection } from './testconnection'
import { Promote } from './promote'

// fieldTarget is the id of the input that edits the document field a
// server error names (oauth_configs[0].token_url is #c0-token_url).
function fieldTarget(field: string): string | undefined {
  let m = /^oauth_configs\[(\d+)\]\.([a-z_]+)/.exec(field)
  if (m) return `c${m[1]}-${m[2]}`
  m = /^settings\[(\d+)\]\.([a-z_]+)/.exec(field)
  if (m) return `s${m[1]}-${m[2]}`
  return ({ label: 'app-label', description: 'app-description', allowed_return_urls: 'app-returns' } as Record<string, string>)[field.split(/[.[]/)[0]]
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

export function ConfigEditor({ app, settings, cfg, index, err, onChange, onRemove }: { app: string; settings: any[]; cfg: any; index: number; err?: APIError; onChange: (c: any) => void; onRemove: () => void }) {
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

export function SettingsEditor({ settings, err, onChange }: { settings: any[]; err?: APIError; onChange: (s: any[]) => void }) {
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

export function AppPage({ name }: { name: string }) {
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
    {typeof app.callback_url === 'string' && <p class="app-callback">Callback URL to register at the provider: <code id="app-callback-url" class="wrap">{app.callback_url}</code></p>}
    <p><a href={`#/apps/${enc(name)}/orgs`}>Org installs</a> · <a href={`#/apps/${enc(name)}/connections`}>Connections</a> ·{' '}
      <button type="button" class="link" onClick={exportYAML}>Export YAML</button> · <button type="button" class="link danger" onClick={remove}>Delete app</button></p>
    <form onSubmit={save} novalidate>
      {err && <ErrorSummary err={err} id="save-summary" target={fieldTarget} />}
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
