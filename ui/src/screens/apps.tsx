// The apps of the environment, and a new app from a YAML or JSON document.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer } from '../api'
import { go } from '../router'
import { ErrorBox, Field, useLoad } from '../parts'

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

export function Apps() {
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
          <td>{(a.oauth_configs || []).map(c => c.name).join(', ')}</td><td>{a.revision}</td></tr>)}</tbody></table>)}
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
