// The shell of the builder UI: the session, the header with its
// navigation and environment switcher, and the screen the hash names.
// Each screen is a file of screens/; the parts they share are in parts/.
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, currentEnvironment, onUnauthorized, setCSRF, setEnvironment, type Schemas } from './api'
import { go, guardLeave, mayLeave, useRoute } from './router'
import { resumeNext, SignIn } from './screens/signin'
import { Apps } from './screens/apps'
import { Catalog } from './screens/catalog'
import { AppPage } from './screens/app'
import { Orgs } from './screens/orgs'
import { Connections } from './screens/connections'
import { ConnectionPage } from './screens/connection'
import { APIKeys } from './screens/apikeys'
import { Admins } from './screens/admins'
import { Audit } from './screens/audit'
import { Webhooks } from './screens/webhooks'
import { AppTraces } from './screens/traces'
import { OAuthServer } from './screens/oauthserver'
import { markReady } from './parts'
import { Environments } from './screens/environments'
import './style.css'

type Session = Schemas['Session']

function Shell() {
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  const route = useRoute()
  const [env, setEnv] = useState(currentEnvironment())
  const [envs, setEnvs] = useState<string[]>([])
  const [notice, setNotice] = useState('')
  useEffect(() => {
    if (!session) return
    onUnauthorized(() => { guardLeave(undefined); setNotice('Your session has ended: sign in again.'); setSession(null) })
    return () => onUnauthorized(undefined)
  }, [session])
  useEffect(() => {
    api<Session>('GET', '/session').then(s => { setCSRF(s.csrf_token); setSession(s) }, () => setSession(null))
  }, [])
  // The switcher's list, read again when the environments screen changes it.
  const [envsChanged, setEnvsChanged] = useState(0)
  useEffect(() => {
    const on = () => setEnvsChanged(n => n + 1)
    addEventListener('latchkey:environments', on)
    return () => removeEventListener('latchkey:environments', on)
  }, [])
  useEffect(() => {
    if (!session) return
    api<{ environments: { name: string }[] }>('GET', '/environments').then(r => {
      const names = r.environments.map(e => e.name)
      setEnvs(names)
      if (names.length && !names.includes(currentEnvironment())) { setEnvironment(names[0]); setEnv(names[0]) }
    }, () => setEnvs([]))
  }, [session, envsChanged])
  // The sign-in screen needs no data; other screens mark their data rendered (useLoad).
  useEffect(() => { if (session === null) markReady() }, [session])
  if (session === undefined) return <main id="main"><p>Loading…</p></main>
  if (session === null) return <SignIn notice={notice} onDone={s => { setCSRF(s.csrf_token); setNotice(''); setSession(s); if (!resumeNext() && !notice) go('apps') }} />
  const signOut = async () => { await api('DELETE', '/session').catch(() => { }); setSession(null) }
  const [top, name, sub] = route
  let page
  if (top === 'apps' && name && sub === 'orgs') page = <Orgs name={name} org={route[3]} />
  else if (top === 'apps' && name && sub === 'connections') page = <Connections app={name} />
  else if (top === 'connections' && route.length === 5) page = <ConnectionPage app={route[1]} org={route[2]} user={route[3]} config={route[4]} />
  else if (top === 'connections' && route.length === 4) page = <ConnectionPage app={route[1]} org={route[2]} config={route[3]} />
  else if (top === 'connections') page = <Connections />
  else if (top === 'apps' && name && sub === 'webhooks') page = <Webhooks name={name} />
  else if (top === 'apps' && name && sub === 'traces') page = <AppTraces name={name} />
  else if (top === 'apps' && name) page = <AppPage name={name} />
  else if (top === 'catalog') page = <Catalog name={name} />
  else if (top === 'keys') page = <APIKeys />
  else if (top === 'audit') page = <Audit />
  else if (top === 'admins') page = <Admins me={session.email} />
  else if (top === 'environments') page = <Environments />
  else if (top === 'oauth') page = <OAuthServer env={env} />
  else page = <Apps />
  return <>
    <a class="skip" href="#main" onClick={e => { e.preventDefault(); document.getElementById('main')?.focus() }}>Skip to content</a>
    <header><span class="brand">Latchkey</span>
      <nav aria-label="Main"><a href="#/apps" aria-current={!top || top === 'apps' ? 'page' : undefined}>Apps</a><a href="#/catalog" aria-current={top === 'catalog' ? 'page' : undefined}>Catalog</a><a href="#/connections" aria-current={top === 'connections' ? 'page' : undefined}>Connections</a><a href="#/keys" aria-current={top === 'keys' ? 'page' : undefined}>API keys</a>
        <a href="#/audit" aria-current={top === 'audit' ? 'page' : undefined}>Audit log</a>
        <a href="#/environments" aria-current={top === 'environments' ? 'page' : undefined}>Environments</a>
        <a href="#/oauth" aria-current={top === 'oauth' ? 'page' : undefined}>OAuth server</a>
        <a href="#/admins" aria-current={top === 'admins' ? 'page' : undefined}>Admins</a></nav>
      <label class="env">Environment{' '}
        <select id="env-switch" value={env} onChange={e => {
          const el = e.target as HTMLSelectElement
          // Switching environments leaves the screen: unsaved edits are asked about first.
          if (!mayLeave()) { el.value = env; return }
          guardLeave(undefined); setEnvironment(el.value); setEnv(el.value)
        }}>
          {(envs.length ? envs : [env]).map(n => <option value={n}>{n}</option>)}
        </select></label>
      <span class="who">{session.email} <button type="button" class="link" onClick={signOut}>Sign out</button></span></header>
    <main id="main" tabIndex={-1} key={env}>{page}</main>
  </>
}

render(<Shell />, document.getElementById('app')!)
