// The editor of an app's declared APIs: the calls to a provider that
// Latchkey makes for the app's backend (POST …/apis/{api}), each with the
// parameters its caller supplies.
import type { APIError, Schemas } from '../api'
import { Field, JSONField, SelectField } from '../parts'

type API = Schemas['API']
type Param = NonNullable<API['params']>[number]

const methods: (string | [string, string])[] = [['', 'unset: GET'], 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']

/** Without is obj without the key k when v is empty (unset stays unset), or with k set to v. */
function without<T extends object, K extends keyof T>(obj: T, k: K, v: T[K] | undefined): T {
  const n = { ...obj }
  if (v === '' || v === undefined || v === false) delete n[k]; else n[k] = v as T[K]
  return n
}

/**
 * APIsEditor edits the document's apis. Inputs are named a<i>-<field> and
 * a<i>-p<j>-<field> (a0-url, a0-p1-name), as the server's errors
 * (apis[0].url, apis[0].params[1].name) name them.
 */
export function APIsEditor({ apis, configs, err, onChange }: { apis: API[]; configs: string[]; err?: APIError; onChange: (a: API[]) => void }) {
  const put = (i: number, a: API) => onChange(apis.map((x, j) => j === i ? a : x))
  return <fieldset class="apis"><legend>APIs</legend>
    <p class="hint">Calls Latchkey makes to a provider for your backend, with the connection's credentials: a path joins the OAuth config's API base URL.
      Templates read a parameter as <code>{'{{param "id"}}'}</code>.</p>
    {apis.map((a, i) => {
      const p = `a${i}-`
      const fe = (f: string) => err?.fieldError(`apis[${i}].${f}`)
      const set = <K extends keyof API>(k: K, v: API[K] | undefined) => put(i, without(a, k, v))
      const params = a.params || []
      const setParams = (ps: Param[]) => set('params', ps.length ? ps : undefined)
      const setParam = <K extends keyof Param>(j: number, k: K, v: Param[K]) => setParams(params.map((x, n) => n === j ? without(x, k, v) : x))
      const cur = a.oauth_config || ''
      return <section class="api" aria-labelledby={p + 'title'}>
        <h2 id={p + 'title'}>API {a.name || i + 1}</h2>
        <p><button type="button" class="link danger" id={p + 'remove'} onClick={() => onChange(apis.filter((_, j) => j !== i))}>Remove this API<span class="sr"> {a.name || i + 1}</span></button></p>
        <div class="grid">
          <Field id={p + 'name'} label="Name" hint="in URLs: …/apis/{name}" value={a.name} onInput={v => put(i, { ...a, name: v })} error={fe('name')} />
          <Field id={p + 'description'} label="Description" value={a.description || ''} onInput={v => set('description', v)} error={fe('description')} />
          <SelectField id={p + 'oauth_config'} label="OAuth config" hint="whose connection supplies the values" value={cur} error={fe('oauth_config')}
            options={[['', 'unset: the app\'s only config'], ...configs.filter(Boolean), ...(cur && !configs.includes(cur) ? [cur] : [])]} onChange={v => set('oauth_config', v)} />
          <SelectField id={p + 'method'} label="Method" value={(a.method || '').toUpperCase()} options={methods} onChange={v => set('method', v)} error={fe('method')} />
          <Field id={p + 'url'} label="URL" hint="a path joined to the API base URL, or an absolute URL; a template" value={a.url} onInput={v => put(i, { ...a, url: v })} error={fe('url')} />
          <JSONField id={p + 'headers'} label="Headers" hint="JSON: header names to templates" value={a.headers} onChange={v => set('headers', v as API['headers'])} error={fe('headers')} />
          <JSONField id={p + 'query'} label="Query" hint="JSON: query parameters to templates" value={a.query} onChange={v => set('query', v as API['query'])} error={fe('query')} />
          <Field id={p + 'body'} label="Body" hint="the request body, a template" multiline value={a.body || ''} onInput={v => set('body', v)} error={fe('body')} />
        </div>
        <table class="params">
          <caption>Parameters of API {a.name || i + 1}</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Required</th><th scope="col">Description</th><th scope="col"><span class="sr">Remove</span></th></tr></thead>
          <tbody>{params.map((q, j) => {
            const pp = `${p}p${j}-`
            const pe = (f: string) => err?.fieldError(`apis[${i}].params[${j}].${f}`)
            return <tr>
              <td><input id={pp + 'name'} aria-label={`API ${i + 1} parameter ${j + 1} name`} value={q.name} aria-invalid={pe('name') ? 'true' : undefined}
                onInput={e => setParams(params.map((x, n) => n === j ? { ...x, name: (e.target as HTMLInputElement).value } : x))} />
                {pe('name') && <p class="field-error">{pe('name')}</p>}</td>
              <td><input type="checkbox" id={pp + 'required'} aria-label={`API ${i + 1} parameter ${j + 1} required`} checked={!!q.required}
                onChange={e => setParam(j, 'required', (e.target as HTMLInputElement).checked)} /></td>
              <td><input id={pp + 'description'} aria-label={`API ${i + 1} parameter ${j + 1} description`} value={q.description || ''}
                onInput={e => setParam(j, 'description', (e.target as HTMLInputElement).value)} /></td>
              <td><button type="button" class="link" id={pp + 'remove'} onClick={() => setParams(params.filter((_, n) => n !== j))}>Remove<span class="sr"> parameter {q.name || j + 1}</span></button></td>
            </tr>
          })}</tbody>
        </table>
        <p><button type="button" id={p + 'add-param'} onClick={() => setParams([...params, { name: '' }])}>Add a parameter<span class="sr"> to API {a.name || i + 1}</span></button></p>
      </section>
    })}
    <p><button type="button" id="apis-add" onClick={() => onChange([...apis, { name: '', url: '' }])}>Add an API</button></p>
  </fieldset>
}
