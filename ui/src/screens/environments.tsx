// The environments (dev, staging, prod …): each its own apps, orgs,
// connections and keys. Create one, delete one (the server says what it
// holds before anything is deleted), and promote the apps of the current
// environment to another, each difference shown before the copy.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, currentEnvironment, enc, type Answer } from '../api'
import { ErrorBox, Field, fmtTime, useLoad } from '../parts'
import { PromoteApp } from './promote'

/** environmentsChanged tells the header's switcher that the list of environments changed. */
export function environmentsChanged() { dispatchEvent(new Event('latchkey:environments')) }

export function Environments() {
  const env = currentEnvironment()
  const [data, err, reload] = useLoad(() => api<Answer<'/environments', 'get'>>('GET', '/environments'), [])
  const [name, setName] = useState('')
  const [publicURL, setPublicURL] = useState('')
  const [createErr, setCreateErr] = useState<APIError>()
  const [created, setCreated] = useState('')
  const [delErr, setDelErr] = useState<{ env: string; err: APIError }>()
  const [deleted, setDeleted] = useState('')
  const create = async (e: Event) => {
    e.preventDefault(); setCreateErr(undefined); setCreated('')
    try {
      const r = await api<Answer<'/environments', 'post', 201>>('POST', '/environments', { name: name.trim(), public_url: publicURL.trim() || undefined })
      setCreated(r.name); setName(''); setPublicURL(''); reload(); environmentsChanged()
    } catch (x) { setCreateErr(x as APIError) }
  }
  const remove = async (n: string, force: boolean) => {
    if (!force && !confirm(`Delete the environment ${n}?`)) return
    setDelErr(undefined); setDeleted('')
    try {
      await api('DELETE', `/environments/${enc(n)}` + (force ? '?force=true' : ''))
      setDeleted(n); reload(); environmentsChanged()
    } catch (x) { setDelErr({ env: n, err: x as APIError }) }
  }
  const others = (data?.environments || []).map(e => e.name).filter(n => n !== env)
  return <>
    <h1>Environments</h1>
    <p>Each environment has its own apps, orgs, connections and API keys. You are working in <strong>{env}</strong>: switch in the header.</p>
    <ErrorBox err={err} />
    {deleted && <p class="ok" role="status" id="env-deleted">Environment {deleted} deleted.</p>}
    {delErr && <div class="alert" role="alert" id="env-delete-error"><strong>{delErr.err.message}</strong>
      {delErr.err.status === 409 && <p>Deleting {delErr.env} anyway deletes its apps, their org values, connections and keys, for good.{' '}
        <button type="button" class="danger" onClick={() => remove(delErr.env, true)}>Delete {delErr.env} with everything in it</button>{' '}
        <button type="button" onClick={() => setDelErr(undefined)}>Keep it</button></p>}</div>}
    {data && <table id="environments"><thead><tr><th scope="col">Name</th><th scope="col">Public URL</th><th scope="col">Created</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>{data.environments.map(e => <tr id={'env-' + e.name}><td>{e.name}{e.name === env && <span class="hint"> (current)</span>}</td>
        <td><PublicURL env={e.name} url={e.public_url} saved={() => { reload(); environmentsChanged() }} /></td>
        <td>{fmtTime(e.created_at)}</td>
        <td>{e.name !== env && <button type="button" class="link danger" onClick={() => remove(e.name, false)}>Delete<span class="sr"> {e.name}</span></button>}</td></tr>)}</tbody></table>}
    <section aria-labelledby="env-new-h"><h2 id="env-new-h">New environment</h2>
      <form onSubmit={create} class="inline" noValidate>
        <Field id="env-name" label="Name" value={name} onInput={setName} error={createErr?.fieldError('name')} hint="lower case letters, digits and dashes" required />
        <Field id="env-public-url" label="Public URL" value={publicURL} onInput={setPublicURL} error={createErr?.fieldError('public_url')} hint="optional: its links and callbacks on their own host" />
        <button class="primary" type="submit">Create environment</button>
      </form>
      {createErr && !createErr.fieldError('name') && !createErr.fieldError('public_url') && <ErrorBox err={createErr} />}
      {created && <p class="ok" role="status" id="env-created">Environment {created} created: switch to it in the header.</p>}
    </section>
    {others.length > 0 && <Promotion others={others} />}
  </>
}

// PublicURL shows an environment's public URL and edits it in place: its
// links and callbacks on a host of its own, or the server's when empty.
function PublicURL({ env, url, saved }: { env: string; url?: string; saved: () => void }) {
  const [editing, setEditing] = useState(false)
  const [value, setValue] = useState(url || '')
  const [err, setErr] = useState<APIError>()
  const save = async (e: Event) => {
    e.preventDefault(); setErr(undefined)
    try {
      await api<Answer<'/environments/{env}', 'put'>>('PUT', `/environments/${enc(env)}`, { name: env, public_url: value.trim() })
      setEditing(false); saved()
    } catch (x) { setErr(x as APIError) }
  }
  if (!editing) return <>
    {url ? <code>{url}</code> : <span class="hint">the server's own</span>}{' '}
    <button type="button" class="link" onClick={() => { setValue(url || ''); setEditing(true) }}>Edit<span class="sr"> the public URL of {env}</span></button>
  </>
  return <form onSubmit={save} class="inline" noValidate>
    <Field id={`env-url-${env}`} label={`Public URL of ${env}`} value={value} onInput={setValue} error={err?.fieldError('public_url')} hint="empty: the server's own" />
    <button type="submit" class="primary">Save</button> <button type="button" onClick={() => { setEditing(false); setErr(undefined) }}>Cancel</button>
    {err && !err.fieldError('public_url') && <ErrorBox err={err} />}
  </form>
}

// Promotion lists the current environment's apps, each with its state in
// the chosen environment and its promotion.
function Promotion({ others }: { others: string[] }) {
  const [to, setTo] = useState(others[0])
  useEffect(() => { if (!others.includes(to)) setTo(others[0]) }, [others.join(' ')])
  const [apps, err] = useLoad(() => api<Answer<'/apps', 'get'>>('GET', '/apps'), [])
  return <section aria-labelledby="env-promote-h"><h2 id="env-promote-h">Promote apps from {currentEnvironment()}</h2>
    <p>Each app's saved document, compared with the one in the environment you choose. Org values, connections and keys are not copied.</p>
    <label for="env-promote-to">Compare with</label>{' '}
    <select id="env-promote-to" value={to} onChange={e => setTo((e.target as HTMLSelectElement).value)}>
      {others.map(n => <option value={n}>{n}</option>)}
    </select>
    <ErrorBox err={err} />
    {apps && (apps.apps.length === 0 ? <p>No app in {currentEnvironment()} to promote.</p> :
      <ul class="promote-list">{apps.apps.map(a => a.name && <li><h3><a href={'#/apps/' + enc(a.name)}>{a.label || a.name}</a> <code>{a.name}</code></h3>
        <PromoteApp app={a.name} to={to} id={'promote-' + a.name} /></li>)}</ul>)}
  </section>
}
