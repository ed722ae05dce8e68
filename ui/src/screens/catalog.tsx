// Start from the catalog: a gallery of the providers Latchkey knows, an entry's
// detail, and an app created from it with the next steps (the callback URL to
// register at the provider, the org-level settings to fill).
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { go } from '../router'
import { CopyValue, ErrorBox, Field, useLoad } from '../parts'

type Entry = Schemas['ProviderEntry']
type Created = Schemas['App']

/** Logo shows an entry's logo, or its monogram when there is none or the image fails to load. */
function Logo({ entry }: { entry: Entry }) {
  const [failed, setFailed] = useState(false)
  const initials = (entry.label || entry.name).slice(0, 2).toUpperCase()
  if (!entry.logo_url || failed) return <span class="catalog-logo catalog-monogram" aria-hidden="true">{initials}</span>
  return <img class="catalog-logo" src={entry.logo_url} alt="" loading="lazy" width={40} height={40}
    referrerpolicy="no-referrer" onError={() => setFailed(true)} />
}

/** Catalog is the gallery (name empty) or one entry's detail. */
export function Catalog({ name }: { name?: string }) {
  return name ? <Detail name={name} /> : <Gallery />
}

function Gallery() {
  const [search, setSearch] = useState('')
  const [query, setQuery] = useState('')
  const [category, setCategory] = useState('')
  useEffect(() => { const t = setTimeout(() => setQuery(search.trim()), 250); return () => clearTimeout(t) }, [search])
  const [data, err] = useLoad(() => api<Answer<'/providers', 'get'>>('GET', '/providers'), [])
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
  const shown = (data?.providers ?? []).filter(p => (!category || p.category === category) &&
    words.every(w => (p.name + ' ' + p.label + ' ' + (p.description ?? '')).toLowerCase().includes(w)))
  return <>
    <h1>Catalog</h1>
    <p>Start an app from a provider Latchkey knows: its OAuth configs, settings and quirks come ready.</p>
    <ErrorBox err={err} />
    <div class="catalog-filters">
      <div class="field"><label for="catalog-search">Search</label>
        <input id="catalog-search" type="search" value={search} onInput={e => setSearch((e.target as HTMLInputElement).value)} /></div>
      {data && <fieldset class="catalog-categories"><legend>Category</legend>
        {['', ...data.categories].map(c => <label><input type="radio" name="catalog-category" value={c} checked={category === c}
          onChange={() => setCategory(c)} /> {c || 'All'}</label>)}
      </fieldset>}
    </div>
    {data && <p role="status" id="catalog-count">{shown.length} of {data.providers.length} providers</p>}
    <ul class="catalog-grid" id="catalog-grid">
      {shown.map(p => <li class="catalog-card" data-name={p.name}>
        <Logo entry={p} />
        <div><h2><a href={'#/catalog/' + enc(p.name)}>{p.label}</a></h2>
          <p class="catalog-category">{p.category}</p>
          {p.description && <p>{p.description}</p>}</div>
      </li>)}
    </ul>
  </>
}

function Detail({ name }: { name: string }) {
  const [entry, err] = useLoad(() => api<Answer<'/providers/{name}', 'get'>>('GET', '/providers/' + enc(name)), [name])
  const [appName, setAppName] = useState(name)
  const [createErr, setCreateErr] = useState<unknown>()
  const [created, setCreated] = useState<Created>()
  useEffect(() => { setAppName(name); setCreated(undefined); setCreateErr(undefined) }, [name])
  const create = async (e: Event) => {
    e.preventDefault()
    setCreateErr(undefined)
    try { setCreated(await api<Created>('POST', '/providers/' + enc(name) + '/app', { name: appName })) } catch (x) { setCreateErr(x) }
  }
  const nameErr = createErr instanceof APIError ? createErr.fieldError('name') ?? (createErr.status === 409 ? createErr.message : undefined) : undefined
  return <>
    <p><a href="#/catalog">← Catalog</a></p>
    <ErrorBox err={err} />
    {entry && <>
      <div class="catalog-head"><Logo entry={entry} /><h1>{entry.label}</h1></div>
      {entry.description && <p>{entry.description}</p>}
      <dl class="catalog-facts">
        <dt>Category</dt><dd>{entry.category}</dd>
        <dt>Grants</dt><dd>{entry.grants.join(', ') || '—'}</dd>
        <dt>OAuth configs</dt><dd>{entry.configs.join(', ') || '—'}</dd>
        <dt>Settings it needs</dt><dd>{entry.settings.join(', ') || '—'}</dd>
        <dt>Documentation</dt><dd><a href={entry.docs_url} target="_blank" rel="noopener noreferrer">{entry.docs_url}</a></dd>
      </dl>
      {entry.quirks && entry.quirks.length > 0 && <section aria-labelledby="catalog-quirks"><h2 id="catalog-quirks">Quirks</h2>
        <ul>{entry.quirks.map(q => <li>{q}</li>)}</ul></section>}
      {!created ? <section aria-labelledby="catalog-create"><h2 id="catalog-create">Create the app</h2>
        <form onSubmit={create}>
          <Field id="catalog-app-name" label="App name" value={appName} onInput={setAppName} error={nameErr} required />
          {!nameErr && <ErrorBox err={createErr} />}
          <button class="primary" type="submit">Create app</button>
        </form></section> : <NextSteps app={created} />}
    </>}
  </>
}

function NextSteps({ app }: { app: Created }) {
  const orgSettings = (app.settings ?? []).filter(s => s.level === 'org' && s.required)
  const n = enc(app.name ?? '')
  return <section aria-labelledby="catalog-next" id="catalog-next-steps">
    <h2 id="catalog-next">Next steps for {app.name}</h2>
    <ol>
      <li>Register this callback (redirect) URL at the provider:
        {app.callback_url ? <CopyValue id="catalog-callback" value={app.callback_url} label="Callback URL" /> : <p>Unknown: set the server's public URL.</p>}</li>
      <li>{orgSettings.length ? <>Each org fills {orgSettings.map(s => s.name).join(', ')} from the provider's developer console:
        on the app's <a href={'#/apps/' + n + '/orgs'}>Org installs</a>, or by following the org's install link.</> : <>The app needs no org-level setting.</>}</li>
      <li>Review it in the <a href={'#/apps/' + n}>app editor</a>, then its Test connection.</li>
    </ol>
    <p><button type="button" onClick={() => go('apps/' + (app.name ?? ''))}>Open the app</button></p>
  </section>
}
