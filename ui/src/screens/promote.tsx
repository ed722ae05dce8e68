// Promotion: an app's saved document copied to another environment. The
// app editor renders Promote (one app, a target to choose); the
// environments screen reuses PromoteApp for every app of the environment.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, currentEnvironment, enc, type Answer } from '../api'
import { ErrorBox } from '../parts'

/** Promotion is the server's answer to a promotion: the difference, and whether it was saved. */
export type Promotion = Answer<'/apps/{app}/promote', 'post'>

/** promote asks the server for the difference of app's document in to (apply false), or saves the copy (apply true). */
export function promote(app: string, to: string, apply: boolean) {
  return api<Promotion>('POST', '/apps/' + enc(app) + '/promote', { to, apply })
}

/**
 * promotionState reads a difference: the same document, none in the target
 * yet (every line is new), or a different one.
 */
export function promotionState(p: Promotion): 'same' | 'missing' | 'differs' {
  if (!p.changed) return 'same'
  const lines = p.diff.split('\n').filter(Boolean)
  return lines.every(l => l.startsWith('+')) ? 'missing' : 'differs'
}

/** stateText says a promotion's state in words, for the app in environment to. */
export function stateText(p: Promotion, to: string) {
  switch (promotionState(p)) {
    case 'same': return `the same in ${to}`
    case 'missing': return `not in ${to} yet`
    default: return `differs from ${to}`
  }
}

/** DiffView shows a document difference line by line, added and removed lines marked beyond their colour. */
export function DiffView({ id, diff, label }: { id: string; diff: string; label: string }) {
  const lines = diff.replace(/\n$/, '').split('\n')
  return <pre id={id} class="diff" tabIndex={0} aria-label={label}>{lines.map(l => {
    const kind = l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : ''
    return <span class={kind ? 'diff-' + kind : undefined}>{l}{'\n'}</span>
  })}</pre>
}

/**
 * PromoteApp is one app's promotion to environment to: its state there
 * (asked of the server on mount and after each copy), the difference shown
 * on request, and the copy, which is offered only once the difference has
 * been shown. id prefixes the ids of its elements.
 */
export function PromoteApp({ app, to, id, onPromoted }: { app: string; to: string; id: string; onPromoted?: (p: Promotion) => void }) {
  const [state, setState] = useState<Promotion>()
  const [shown, setShown] = useState(false)
  const [done, setDone] = useState<Promotion>()
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState<APIError>()
  const check = () => { setErr(undefined); return promote(app, to, false).then(p => { setState(p); return p }, x => { setErr(x as APIError); return undefined }) }
  useEffect(() => { setState(undefined); setShown(false); setDone(undefined); if (to) check() }, [app, to])
  const apply = async () => {
    setBusy(true); setErr(undefined)
    try {
      const p = await promote(app, to, true)
      setDone(p); setShown(false); onPromoted?.(p); await check()
    } catch (x) { setErr(x as APIError) } finally { setBusy(false) }
  }
  if (!to) return null
  return <div class="promote-app" id={id}>
    <p><span class="promote-state" id={id + '-state'} data-state={state ? promotionState(state) : 'loading'}>
      {state ? <>{app} is {stateText(state, to)}.</> : 'Comparing…'}</span>{' '}
      {state?.changed && !shown && <button type="button" class="small" onClick={() => { setDone(undefined); check().then(p => p && setShown(true)) }}>
        Show changes<span class="sr"> of {app} for {to}</span></button>}
    </p>
    <ErrorBox err={err} />
    {shown && state?.changed && <>
      <DiffView id={id + '-diff'} diff={state.diff} label={`Changes to ${app} in ${to}`} />
      <p class="hint">Lines marked + are added in {to}, lines marked − removed. Org values, connections and keys are not copied.</p>
      <p><button type="button" class="primary" disabled={busy} onClick={apply}>Promote {app} to {to}</button>{' '}
        <button type="button" onClick={() => setShown(false)}>Hide changes</button></p>
    </>}
    {done && <p class="ok" role="status" id={id + '-done'}>Promoted {app}: revision {done.revision} in {to}.</p>}
  </div>
}

/** useOtherEnvironments lists the environments other than the current one, by name. */
export function useOtherEnvironments(): [string[] | undefined, unknown] {
  const [envs, setEnvs] = useState<string[]>()
  const [err, setErr] = useState<unknown>()
  useEffect(() => {
    api<Answer<'/environments', 'get'>>('GET', '/environments').then(r => setEnvs(r.environments.map(e => e.name).filter(n => n !== currentEnvironment())), setErr)
  }, [])
  return [envs, err]
}

// Promote copies the saved document to another environment: first the
// difference, then, when the admin says so, the copy. Org values,
// connections and keys stay where they are.
export function Promote({ name }: { name: string }) {
  const [envs] = useOtherEnvironments()
  const [to, setTo] = useState('')
  useEffect(() => { if (envs && !envs.includes(to)) setTo(envs[0] || '') }, [envs])
  if (!envs || envs.length === 0) return null
  return <section aria-labelledby="promote-h">
    <h2 id="promote-h">Promote to another environment</h2>
    <p>Copies this app's saved document from {currentEnvironment()}; org values, connections and keys are not copied.
      See every app at once under <a href="#/environments">Environments</a>.</p>
    <label for="promote-to">To</label>{' '}
    <select id="promote-to" value={to} onChange={e => setTo((e.target as HTMLSelectElement).value)}>
      {envs.map(n => <option value={n}>{n}</option>)}
    </select>
    <PromoteApp app={name} to={to} id="promote" />
  </section>
}
