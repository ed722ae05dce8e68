// The playground of an OAuth config: its link and token request rendered
// for sample values, and an extraction path tried on a pasted response.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { ErrorBox, Field } from '../parts'

type Preview = Schemas['Preview']
type Config = Schemas['OAuthConfig']
type Setting = Schemas['Setting']

export function Playground({ app, cfg, settings, p }: { app: string; cfg: Config; settings: Setting[]; p: string }) {
  const names = settings.map(s => s.name).filter(n => n && n !== cfg.access_token_variable_name && n !== cfg.refresh_token_variable_name)
  const [values, setValues] = useState<Record<string, string>>({})
  const [preview, setPreview] = useState<Preview>()
  const [renderErr, setRenderErr] = useState<unknown>()
  const [x, setX] = useState({ path: String(cfg.extraction_path_access_token || '$.access_token'), response: '', content_type: 'application/json' })
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
      {names.map(n => <Field id={`${p}pg-${n}`} label={n} type={secret(n) ? 'password' : 'text'} autocomplete="off"
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
