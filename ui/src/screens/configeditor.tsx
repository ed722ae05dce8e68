// The editor of one OAuth config, in two sections: Basic (what every
// provider needs) and Advanced (what a provider that strays from RFC 6749
// needs), with its playground and its test.
import { useEffect, useState } from 'preact/hooks'
import type { APIError, Schemas } from '../api'
import { Field, JSONField, ListField, SelectField } from '../parts'
import { Playground } from './playground'
import { TestConnection } from './testconnection'

type Config = Schemas['OAuthConfig']
type Setting = Schemas['Setting']
type API = Schemas['API']
type Choices = (string | [string, string])[]

// The fixed choices of the engine (pkg/latchkey/oauthconfig.go): '' is
// unset, and its option names the default the engine takes.
const grantTypes: Choices = [['', 'unset: authorization_code'], 'authorization_code', 'client_credentials']
const encodings: Choices = [['', 'unset: form'], 'form', 'json', 'query']
const clientAuths: Choices = [['', 'unset: body'], 'body', 'basic', 'none']
const separators: Choices = [['', 'unset: a space'], [' ', 'a space'], [',', 'a comma (,)'], ['+', 'a plus (+)']]
const expiresInUnits: Choices = [['', 'unset: seconds'], 'seconds', 'milliseconds', 'minutes', 'hours', 'days']

// The Basic section's fields; every other field of a config is Advanced.
const basicFields = ['name', 'label', 'description', 'logo_url', 'grant_type', 'link_url', 'token_url', 'scopes', 'pkce']

type TextField = [key: string, label: string, hint?: string]
const advancedText: TextField[] = [
  ['refresh_token_url', 'Refresh token URL', 'where refreshes go; the token URL when empty'],
  ['revocation_url', 'Revocation URL', 'called on disconnect (RFC 7009)'],
  ['request_body', 'Request body', 'a JSON object template: the code exchange parameters'],
  ['refresh_token_body', 'Refresh token body', 'a JSON object template: the refresh parameters'],
  ['client_id', 'Client id template', 'default {{client_id}}'], ['client_secret', 'Client secret template', 'default {{client_secret}}'],
]
const extractionPaths: TextField[] = [
  ['extraction_path_auth_code', 'Auth code', 'default $.code (over the callback query)'], ['extraction_path_access_token', 'Access token', 'default $.access_token'],
  ['extraction_path_refresh_token', 'Refresh token', 'default $.refresh_token'], ['extraction_path_expires_in', 'Expires in', 'default $.expires_in'],
  ['extraction_path_expires_at', 'Expires at', 'none by default'], ['extraction_path_scope', 'Scope', 'default $.scope'],
  ['extraction_path_token_type', 'Token type', 'default $.token_type'], ['extraction_path_id_token', 'ID token', 'default $.id_token'],
  ['extraction_path_error', 'Error', 'default $.error'], ['extraction_path_error_description', 'Error description', 'default $.error_description'],
  ['success_condition', 'Success condition', 'an expression over the token response, such as $.ok'],
]
const durations: TextField[] = [
  ['refresh_margin', 'Refresh margin', 'how long before expiry a token is refreshed, such as 5m'],
  ['keep_alive_interval', 'Keep-alive interval', 'refresh idle connections this often, such as 720h'],
  ['refresh_token_grace_period', 'Refresh token grace period', 'how long a rotated refresh token still works, such as 1m'],
  ['default_expires_in', 'Default expires in', 'the token\'s lifetime when the answer gives none, such as 1h'],
]
const jsonFields: TextField[] = [
  ['auth_params', 'Auth params', 'JSON: extra query parameters of the link, such as {"access_type": "offline"}'],
  ['token_headers', 'Token headers', 'JSON: extra headers of token requests, such as {"Accept": "application/json"}'],
  ['values', 'Values', 'JSON: org-level values fixed in the config'],
  ['metadata', 'Metadata', 'JSON: a list of {"setting", "from": callback | token | verify, "path"}'],
  ['api_credentials', 'API credentials', 'JSON: {"headers": {…}} or {"query": {…}}; unset is Authorization: Bearer'],
  ['refresh_extraction', 'Refresh extraction paths', 'JSON: paths for the refresh answer, such as {"access_token": "$.access_token"}'],
  ['revocation', 'Revocation request', 'JSON: {"method", "encoding", "client_auth", "body"}'],
  ['api_calls', 'API calls', 'JSON: token_expired_statuses, retry_statuses, max_retries, rate-limit header'],
]

/** fieldOf is the name of the config field a server error names (oauth_configs[0].scopes[1] is scopes). */
const fieldOf = (field: string, index: number) => {
  const m = /^oauth_configs\[(\d+)\]\.([a-z_]+)/.exec(field)
  return m && Number(m[1]) === index ? m[2] : undefined
}

/** LogoPreview shows the logo as the landing page does: 64×64 with rounded corners, or the label's first letter without one. */
function LogoPreview({ url, label, id }: { url: string; label: string; id: string }) {
  const [broken, setBroken] = useState(false)
  useEffect(() => setBroken(false), [url])
  const templated = url.includes('{{')
  return <div class="logo-preview" id={id}>
    {url && !templated && !broken
      ? <img class="logo" src={url} alt={`${label} logo, as the landing page shows it`} width={64} height={64} onError={() => setBroken(true)} />
      : <div class="logo-default" aria-hidden="true">{(label || '?').slice(0, 1)}</div>}
    <p class="hint">{!url ? 'No logo: the landing page shows the label\'s first letter.' : templated ? 'A templated URL: shown once its values are known.'
      : broken ? 'The image does not load from this URL.' : 'As the landing page shows it.'}</p>
  </div>
}

/** ConfigEditor edits one OAuth config of the app's document. */
export function ConfigEditor({ app, settings, apis, cfg, index, err, onChange, onRemove }: {
  app: string; settings: Setting[]; apis: API[]; cfg: Config; index: number; err?: APIError
  onChange: (c: Config) => void; onRemove: () => void
}) {
  const fe = (f: string) => err?.fieldError(`oauth_configs[${index}].${f}`)
  // An unset field stays out of the document rather than becoming "".
  const set = (f: string, v: unknown) => {
    const c: Config = { ...cfg }
    if (v === '' || v === undefined || (Array.isArray(v) && !v.length)) delete c[f]; else c[f] = v
    onChange(c)
  }
  const text = (f: string) => typeof cfg[f] === 'string' ? cfg[f] as string : cfg[f] === undefined ? '' : String(cfg[f])
  // Advanced opens itself when the server finds fault with one of its fields.
  const advancedError = !!err?.details.some(d => { const f = fieldOf(d.field, index); return f !== undefined && !basicFields.includes(f) })
  const [advanced, setAdvanced] = useState(false)
  useEffect(() => { if (advancedError) setAdvanced(true) }, [err, advancedError])

  const p = `c${index}-`
  const level = cfg.grant_type === 'client_credentials' ? 'org' : 'user'
  // A token variable is a setting of the level the grant's tokens have;
  // a name the document holds that is no such setting stays choosable, for
  // the server to explain.
  const tokenVars = (f: string): Choices => {
    const names = settings.filter(s => s.level === level && s.name).map(s => s.name)
    const cur = text(f)
    return [['', 'unset'], ...names, ...(cur && !names.includes(cur) ? [[cur, `${cur} (not a ${level}-level setting)`] as [string, string]] : [])]
  }
  const apiNames = (): Choices => {
    const names = apis.map(a => a.name).filter(Boolean)
    const cur = text('verify_api')
    return [['', 'unset: no verification call'], ...names, ...(cur && !names.includes(cur) ? [cur] : [])]
  }
  const textField = ([f, label, hint]: TextField) => <Field id={p + f} label={label} hint={hint} value={text(f)} onInput={v => set(f, v)} error={fe(f)}
    multiline={f.endsWith('_body')} />
  const select = (f: string, label: string, options: Choices, hint?: string) =>
    <SelectField id={p + f} label={label} hint={hint} value={text(f)} options={options} onChange={v => set(f, v)} error={fe(f)} />

  return <fieldset class="config">
    <legend>OAuth config {cfg.name || index + 1}</legend>
    <p><button type="button" class="link danger" id={p + 'remove'} onClick={onRemove}>Remove this OAuth config<span class="sr"> {cfg.name || index + 1}</span></button>
      <span class="hint"> (taken out of the document when you save)</span></p>
    <section class="config-section" aria-labelledby={p + 'basic'}>
      <h2 id={p + 'basic'}>Basic</h2>
      <div class="grid">
        {textField(['name', 'Name', 'in URLs: …/connections/{name}'])}
        {textField(['label', 'Label', 'the provider\'s name on the landing page'])}
        {textField(['description', 'Description', 'what connecting gives access to'])}
        <div class="logo-field">
          {textField(['logo_url', 'Logo URL', 'an image, 64×64 on the landing page'])}
          <LogoPreview url={text('logo_url')} label={cfg.label || cfg.name || ''} id={p + 'logo-preview'} />
        </div>
        {select('grant_type', 'Grant type', grantTypes, 'client_credentials has no link: its tokens are the org\'s')}
        {textField(['link_url', 'Link URL', 'the provider\'s authorization URL; a template'])}
        {textField(['token_url', 'Token URL', 'the provider\'s token endpoint; a template'])}
        <ListField id={p + 'scopes'} label="Scopes" value={cfg.scopes || []} onInput={v => set('scopes', v)} error={fe('scopes')} />
        <SelectField id={p + 'pkce'} label="PKCE (RFC 7636)" value={cfg.pkce === undefined ? '' : String(cfg.pkce)}
          options={[['', 'unset: on (S256)'], ['true', 'on (S256)'], ['false', 'off']]}
          onChange={v => set('pkce', v === '' ? undefined : v === 'true')} error={fe('pkce')} />
      </div>
    </section>
    <details class="config-section advanced" id={p + 'advanced'} open={advanced} onToggle={e => setAdvanced((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Advanced<span class="hint"> {advancedError ? '(holds an error)' : 'refresh, revocation, requests, extraction, tokens, APIs'}</span></summary>
      <h3>Requests</h3>
      <div class="grid">
        {advancedText.map(textField)}
        {select('request_encoding', 'Request encoding', encodings, 'how token and refresh parameters are sent')}
        {select('client_auth', 'Client authentication', clientAuths, 'RFC 6749 §2.3.1: in the body, an HTTP Basic header, or none')}
        {select('scope_separator', 'Scope separator', separators, 'joins the scopes on the link')}
      </div>
      <h3>Extraction paths</h3>
      <div class="grid">
        {extractionPaths.map(textField)}
        {select('expires_in_unit', 'Expires in unit', expiresInUnits)}
      </div>
      <h3>Tokens</h3>
      <div class="grid">
        {select('access_token_variable_name', 'Access token variable name', tokenVars('access_token_variable_name'), `the ${level}-level setting that receives the access token`)}
        {select('refresh_token_variable_name', 'Refresh token variable name', tokenVars('refresh_token_variable_name'), `the ${level}-level setting that receives the refresh token`)}
        {durations.map(textField)}
      </div>
      <h3>Parameters, headers and values</h3>
      <div class="grid">
        {jsonFields.map(([f, label, hint]) => <JSONField id={p + f} label={label} hint={hint} value={cfg[f]} onChange={v => set(f, v)} error={fe(f)} />)}
      </div>
      <h3>The provider's API</h3>
      <div class="grid">
        {textField(['api_base_url', 'API base URL', 'proxied calls and path APIs go under it; a template'])}
        {select('verify_api', 'Verify API', apiNames(), 'the app\'s API that checks each new connection')}
      </div>
    </details>
    <Playground app={app} cfg={cfg} settings={settings} p={p} />
    {(cfg.grant_type || 'authorization_code') === 'authorization_code' && <TestConnection app={app} cfg={cfg} p={p} />}
  </fieldset>
}
