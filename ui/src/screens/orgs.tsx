// The orgs that installed an app, and the install links sent to them.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer } from '../api'
import { ErrorBox, Field, fmtTime, useLoad } from '../parts'

export function Orgs({ name }: { name: string }) {
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
