// The orgs that installed an app, and the install links sent to them.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { go, guardLeave } from '../router'
import { CopyValue, ErrorBox, ErrorSummary, Field, fmtTime, useLoad } from '../parts'

// The redaction marker the server shows for a stored secret; sent back, it keeps the value.
const redacted = '********'

type Setting = Schemas['Setting']

/** OrgSettings edits one org's org-level values: secrets masked, kept unless replaced or cleared. */
function OrgSettings({ app, org }: { app: string; org: string }) {
  const [doc, docErr] = useLoad(() => api<Answer<'/apps/{app}', 'get'>>('GET', `/apps/${enc(app)}`), [app])
  const [inst, setInst] = useState<Schemas['Installation'] | null>()
  const [values, setValues] = useState<Record<string, string>>({})
  const [cleared, setCleared] = useState<Record<string, boolean>>({})
  const [dirty, setDirty] = useState(false)
  const [err, setErr] = useState<APIError>()
  const [saved, setSaved] = useState(false)
  useEffect(() => {
    api<Answer<'/apps/{app}/orgs/{org}/settings', 'get'>>('GET', `/apps/${enc(app)}/orgs/${enc(org)}/settings`)
      .then(setInst, x => { if ((x as APIError).status === 404) setInst(null); else setErr(x as APIError) })
  }, [app, org])
  useEffect(() => {
    guardLeave(dirty ? () => confirm(`Leave the settings of ${org} without saving them?`) : undefined)
    return () => guardLeave(undefined)
  }, [dirty])
  const settings: Setting[] = (doc?.settings || []).filter(s => s.level === 'org')
  const stored = inst?.values || {}
  const set = (k: string, v: string) => { setValues({ ...values, [k]: v }); setDirty(true); setSaved(false) }
  const save = async (e: Event) => {
    e.preventDefault(); setErr(undefined); setSaved(false)
    const body: Record<string, string | null> = {}
    for (const s of settings) {
      const typed = values[s.name]
      if (s.secret && stored[s.name] === redacted) {
        // A stored secret: blank keeps it, Clear empties it, a value replaces it.
        body[s.name] = cleared[s.name] ? null : typed ? typed : redacted
      } else {
        const v = typed ?? stored[s.name] ?? ''
        body[s.name] = v === '' ? null : v
      }
    }
    try {
      const r = await api<Answer<'/apps/{app}/orgs/{org}/settings', 'put'>>('PUT', `/apps/${enc(app)}/orgs/${enc(org)}/settings`, body)
      setInst(r); setValues({}); setCleared({}); setDirty(false); setSaved(true)
    } catch (x) { setErr(x as APIError) }
  }
  const fid = (n: string) => 'org-setting-' + n
  return <>
    <h1>Settings of {org} for {app}</h1>
    <p><a href={`#/apps/${enc(app)}/orgs`}>Back to the org installs</a></p>
    <ErrorBox err={docErr} />
    {inst === null && <p class="notice" id="org-not-installed">{org} has not installed {app}: saving these settings installs it on its behalf.</p>}
    {err && <ErrorSummary err={err} id="org-settings-errors" target={f => settings.some(s => s.name === f) ? fid(f) : undefined} />}
    {doc && inst !== undefined && (settings.length === 0 ? <p>{app} declares no org-level setting.</p> :
      <form onSubmit={save} id="org-settings" noValidate>
        {settings.map(s => {
          const has = stored[s.name] !== undefined && stored[s.name] !== ''
          const secretKept = s.secret && stored[s.name] === redacted
          return <div class="org-setting">
            <Field id={fid(s.name)} label={s.name} type={s.secret ? 'password' : 'text'} autocomplete="off" required={s.required}
              value={values[s.name] ?? (s.secret ? '' : stored[s.name] ?? '')} onInput={v => set(s.name, v)}
              error={err?.fieldError(s.name)}
              hint={[s.description, s.default && !s.secret ? `default: ${s.default}` : '',
                secretKept ? (cleared[s.name] ? 'will be cleared on save' : 'a value is stored: leave blank to keep it') : s.secret && !has ? 'secret: no value stored' : ''].filter(Boolean).join(' · ') || undefined} />
            {secretKept && <label class="check"><input type="checkbox" id={fid(s.name) + '-clear'} checked={!!cleared[s.name]}
              onChange={e => { setCleared({ ...cleared, [s.name]: (e.target as HTMLInputElement).checked }); setDirty(true); setSaved(false) }} /> Clear the stored {s.name}</label>}
          </div>
        })}
        <p class="hint">Fields marked * are required. Secrets are never shown, nor sent back unless replaced.</p>
        <p><button class="primary" type="submit">{inst === null ? 'Install with these settings' : 'Save settings'}</button>{' '}
          {saved && <span class="ok" role="status" id="org-settings-saved">Saved{inst?.updated_at ? ' ' + fmtTime(inst.updated_at) : ''}.</span>}</p>
      </form>)}
  </>
}

export function Orgs({ name, org: editing }: { name: string; org?: string }) {
  if (editing) return <OrgSettings app={name} org={editing} />
  return <OrgList name={name} />
}

function OrgList({ name }: { name: string }) {
  const [newOrg, setNewOrg] = useState('')
  const [link, setLink] = useState<Answer<'/apps/{app}/orgs/{org}/install-link', 'post', 201>>()
  const [data, err, reload] = useLoad(() => api<Answer<'/apps/{app}/orgs', 'get'>>('GET', `/apps/${enc(name)}/orgs`), [name])
  const [org, setOrg] = useState('')
  const [actErr, setActErr] = useState<APIError>()
  const [links, linksErr, reloadLinks] = useLoad(() => api<Answer<'/apps/{app}/install-links', 'get'>>('GET', `/apps/${enc(name)}/install-links`), [name])
  // An org whose required settings all have defaults connects without
  // installing: it is listed here too, so that this page and Connections
  // tell the same story.
  const [conns] = useLoad(() => api<Answer<'/apps/{app}/connections', 'get'>>('GET', `/apps/${enc(name)}/connections`), [name])
  const installed = new Set((data?.installations || []).map(i => i.org))
  const uninstalled = data && conns ? [...new Set(conns.connections.map(c => c.org))].filter(o => !installed.has(o)).sort() : []
  const issue = async (e: Event) => {
    e.preventDefault(); setActErr(undefined); setLink(undefined)
    try { setLink(await api<Answer<'/apps/{app}/orgs/{org}/install-link', 'post', 201>>('POST', `/apps/${enc(name)}/orgs/${enc(org)}/install-link`)); reloadLinks() } catch (x) { setActErr(x as APIError) }
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
        <tbody>{data.installations.map(i => <tr><td><a href={`#/apps/${enc(name)}/orgs/${enc(i.org)}`}>{i.org}<span class="sr">: edit its settings</span></a></td>
          <td><dl class="values">{Object.entries(i.values || {}).map(([k, v]) => <><dt>{k}</dt><dd><code>{String(v)}</code></dd></>)}</dl></td>
          <td>{fmtTime(i.updated_at)}</td><td><button type="button" class="link danger" onClick={() => uninstall(i.org)}>Uninstall<span class="sr"> {i.org}</span></button></td></tr>)}</tbody></table>)}
    <section aria-labelledby="org-new-h"><h2 id="org-new-h">Add an org</h2>
      <p>Fill an org's settings on its behalf, instead of sending it an install link.</p>
      <form class="inline" onSubmit={e => { e.preventDefault(); if (newOrg.trim()) go(`apps/${enc(name)}/orgs/${enc(newOrg.trim())}`) }}>
        <Field id="new-org" label="Org id" value={newOrg} onInput={setNewOrg} required />
        <button type="submit">Fill its settings</button>
      </form></section>
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
      {link && <div class="install-link-new" role="status"><p class="ok">Install link for {link.install_link.org}, shown once, expires {fmtTime(link.expires_at)}:</p>
        <CopyValue id="install-link-value" value={link.url} label="the install link" />
        <p><a href={link.url} id="install-link-url" target="_blank" rel="noreferrer">Open the install prompt</a></p></div>}
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
