// The app editor: the app's fields, its settings, each OAuth config in
// sections with its playground and test, and the declared APIs, saved as
// one document that the server checks whole.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { go, guardLeave } from '../router'
import { documentYAML } from '../yaml'
import { CopyValue, ErrorBox, ErrorSummary, Field, ListField, useLoad } from '../parts'
import { ConfigEditor } from './configeditor'
import { SettingsEditor } from './settingseditor'
import { APIsEditor } from './apiseditor'
import { Promote } from './promote'

type App = Schemas['App']
type Config = Schemas['OAuthConfig']

// fieldTarget is the id of the input that edits the document field a
// server error names: oauth_configs[0].token_url is #c0-token_url,
// settings[1].name #s1-name, apis[0].url #a0-url and
// apis[0].params[1].name #a0-p1-name.
export function fieldTarget(field: string): string | undefined {
  let m = /^oauth_configs\[(\d+)\]\.([a-z_]+)/.exec(field)
  if (m) return `c${m[1]}-${m[2]}`
  m = /^settings\[(\d+)\]\.([a-z_]+)/.exec(field)
  if (m) return `s${m[1]}-${m[2]}`
  m = /^apis\[(\d+)\]\.params\[(\d+)\](?:\.([a-z_]+))?/.exec(field)
  if (m) return `a${m[1]}-p${m[2]}-${m[3] || 'name'}`
  m = /^apis\[(\d+)\](?:\.([a-z_]+))?/.exec(field)
  if (m) return `a${m[1]}-${m[2] || 'name'}`
  return ({ label: 'app-label', description: 'app-description', allowed_return_urls: 'app-returns' } as Record<string, string>)[field.split(/[.[]/)[0]]
}

let nextEditorKey = 1

export function AppPage({ name }: { name: string }) {
  const [app, loadErr, reload] = useLoad(() => api<Answer<'/apps/{app}', 'get'>>('GET', '/apps/' + enc(name)), [name])
  const [draft, setDraft] = useState<App>()
  const [err, setErr] = useState<APIError>()
  // The revision the last save made: saved once the editor shows it again.
  const [saved, setSaved] = useState<number>()
  // Each OAuth config's editor keeps its key when another one is removed.
  // A reload after a save keeps them too, so that an open section stays open.
  const [keys, setKeys] = useState<number[]>([])
  const [keysOf, setKeysOf] = useState('')
  useEffect(() => {
    if (!app) return
    const n = (app.oauth_configs || []).length
    setDraft(structuredClone(app))
    if (keysOf !== name || keys.length !== n) { setKeys(Array.from({ length: n }, () => nextEditorKey++)); setKeysOf(name) }
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
  if (!app || !draft) return <p>Loading…</p>
  const configs: Config[] = draft.oauth_configs || []
  const save = async (e: Event) => {
    e.preventDefault(); setErr(undefined); setSaved(undefined)
    const { revision, created_at, updated_at, ...doc } = draft
    const put = async (query: string) => {
      const a = await api<Answer<'/apps/{app}', 'put'>>('PUT', '/apps/' + enc(name) + query, doc); setSaved(a.revision); reload()
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
    {typeof app.callback_url === 'string' && <p class="app-callback">Callback URL to register at the provider: <CopyValue id="app-callback-url" value={app.callback_url} label="callback URL" /></p>}
    <p><a href={`#/apps/${enc(name)}/orgs`}>Org installs</a> · <a href={`#/apps/${enc(name)}/connections`}>Connections</a> · <a href={`#/apps/${enc(name)}/webhooks`}>Webhooks</a> · <a href={`#/apps/${enc(name)}/traces`}>Flow traces</a> ·{' '}
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
      {configs.map((c, i) => <ConfigEditor key={keys[i]} app={name} settings={draft.settings || []} apis={draft.apis || []} cfg={c} index={i} err={err}
        onChange={nc => setDraft({ ...draft, oauth_configs: configs.map((x, j) => j === i ? nc : x) })}
        onRemove={() => { setDraft({ ...draft, oauth_configs: configs.filter((_, j) => j !== i) }); setKeys(keys.filter((_, j) => j !== i)) }} />)}
      <p><button type="button" onClick={() => { setDraft({ ...draft, oauth_configs: [...configs, { name: '' }] }); setKeys([...keys, nextEditorKey++]) }}>Add an OAuth config</button></p>
      <APIsEditor apis={draft.apis || []} configs={configs.map(c => c.name)} err={err}
        onChange={a => { const d: App = { ...draft, apis: a }; if (!a.length) delete d.apis; setDraft(d) }} />
      <div class="actions save-bar">
        <button class="primary" type="submit">Save app</button>
        <span role="status" id="save-status" class={saved ? 'ok' : err ? 'field-error' : 'hint'}>
          {saved !== undefined ? (app.revision === saved && draft.revision === saved ? `Saved: revision ${saved}.${dirty ? ' Unsaved changes since.' : ''}` : 'Saving…')
            : err ? `Not saved: ${err.details.length || 1} error(s), listed at the top.` : dirty ? 'Unsaved changes.' : ''}</span>
      </div>
    </form>
    <Promote name={name} />
  </>
}
