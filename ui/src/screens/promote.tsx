// Promotion: an app's saved document copied to another environment.
import { useEffect, useState } from 'preact/hooks'
import { api, APIError, currentEnvironment, enc } from '../api'

// Promote copies the saved document to another environment: first the
// difference, then, when the admin says so, the copy. Org values,
// connections and keys stay where they are.
export function Promote({ name }: { name: string }) {
  const [envs, setEnvs] = useState<string[]>([])
  const [to, setTo] = useState('')
  const [diff, setDiff] = useState<{ diff: string; changed: boolean; applied: boolean; revision?: number }>()
  const [err, setErr] = useState<APIError>()
  useEffect(() => {
    api<{ environments: { name: string }[] }>('GET', '/environments').then(r => {
      const others = r.environments.map(e => e.name).filter(n => n !== currentEnvironment())
      setEnvs(others); setTo(others[0] || '')
    }, () => setEnvs([]))
  }, [name])
  if (envs.length === 0) return null
  const run = async (apply: boolean) => {
    setErr(undefined)
    try { setDiff(await api<any>('POST', '/apps/' + enc(name) + '/promote', { to, apply })) } catch (x) { setErr(x as APIError) }
  }
  return <section aria-labelledby="promote-h">
    <h2 id="promote-h">Promote to another environment</h2>
    <p>Copies this app's saved document from {currentEnvironment()}; org values, connections and keys are not copied.</p>
    <label for="promote-to">To</label>{' '}
    <select id="promote-to" value={to} onChange={e => { setTo((e.target as HTMLSelectElement).value); setDiff(undefined) }}>
      {envs.map(n => <option value={n}>{n}</option>)}
    </select>{' '}
    <button type="button" onClick={() => run(false)}>Show changes</button>
    {err && <div class="alert" role="alert"><strong>{err.message}</strong></div>}
    {diff && !diff.applied && <>
      {diff.changed ? <pre id="promote-diff" tabIndex={0} aria-label="Changes to the document">{diff.diff}</pre> : <p role="status">The document in {to} is the same.</p>}
      {diff.changed && <p><button type="button" class="primary" onClick={() => run(true)}>Promote to {to}</button></p>}
    </>}
    {diff?.applied && <p class="ok" role="status">Promoted: revision {diff.revision} in {to}.</p>}
  </section>
}
