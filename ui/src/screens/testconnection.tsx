// Test connection: the real flow of a saved OAuth config, in a popup,
// shown step by step, ending with the config's verification call.
import { useState } from 'preact/hooks'
import { api, APIError, enc, type Answer, type Schemas } from '../api'
import { ErrorBox, Field, fmtTime, LatestTrace, traceIDs } from '../parts'
import { connect, ConnectError } from '../../../sdk/js/dist/index.js'

type Step = { label: string; state: 'done' | 'waiting' | 'failed'; detail?: string }

export function TestConnection({ app, cfg, p }: { app: string; cfg: Schemas['OAuthConfig']; p: string }) {
  const [org, setOrg] = useState('')
  const [user, setUser] = useState('test-user')
  const [steps, setSteps] = useState<Step[]>([])
  const [err, setErr] = useState<APIError>()
  // The trace of the run: the callback's, newer than those of before it
  // (read once the popup is open: the click's activation opens it).
  const [traced, setTraced] = useState<{ path: string; before: string[]; err?: unknown }>()
  const start = async () => {
    setErr(undefined)
    setTraced(undefined)
    const path = `/apps/${enc(app)}/orgs/${enc(org)}/users/${enc(user)}/connections/${enc(cfg.name)}`
    let before: string[] = []
    let traceErr: unknown
    const showTrace = () => setTraced({ path, before, err: traceErr })
    let shown: Step[] = []
    const show = (s: Step[]) => { shown = s; setSteps(s) }
    show([{ label: 'Create a link', state: 'waiting', detail: `POST …/orgs/${org}/users/${user}/connections/${cfg.name}/link {"popup": true}` }])
    let created: Step | undefined
    const failed = (detail: string, callback?: Step) =>
      show([...(created ? [created] : []), { label: 'Authorization', state: 'failed', detail }, ...(callback ? [callback] : [])])
    try {
      // The connect SDK opens the popup on the click itself, then asks for the link.
      await connect({
        popup: { width: 600, height: 720 },
        url: async () => {
          try { before = await traceIDs(path) } catch (x) { traceErr = x }
          const link = await api<Answer<'/apps/{app}/orgs/{org}/users/{user}/connections/{config}/link', 'post', 201>>('POST', `/apps/${enc(app)}/orgs/${enc(org)}/users/${enc(user)}/connections/${enc(cfg.name)}/link`, { popup: true })
          created = { label: 'Link created', state: 'done', detail: `201: a link to the landing page, valid until ${fmtTime(link.expires_at)}` }
          show([created, { label: 'Authorization', state: 'waiting', detail: 'In the popup window: allow access, then sign in at the provider.' }])
          return link.url
        },
      })
    } catch (x) {
      if (!(x instanceof ConnectError)) {
        setErr(x as APIError)
        show([{ label: 'Create a link', state: 'failed', detail: (x as APIError).message }]); return
      }
      if (x.code === 'popup_blocked') failed('The browser blocked the popup window: allow popups for this site and try again.')
      else if (x.code === 'popup_closed') failed('The popup window was closed before the flow finished.')
      else if (x.code === 'cancelled') failed('The user cancelled on the landing page; nothing was shared.')
      else {
        failed('The popup reported a failure.', { label: 'Callback result', state: 'failed',
          detail: `error ${x.code}` + (x.providerError ? `; the provider said ${x.providerError}` : '') })
        showTrace()
      }
      return
    }
    show([created!, { label: 'Authorization', state: 'done', detail: 'The provider sent the user back to Latchkey.' },
      { label: 'Callback result', state: 'done', detail: 'connected: the token was exchanged and stored' }])
    try {
      const list = await api<Answer<'/apps/{app}/connections', 'get'>>('GET', `/apps/${enc(app)}/connections?org=${enc(org)}`)
      const c = list.connections.find(c => c.user === user && c.config === cfg.name)
      if (c) show([...shown, { label: 'Connection', state: 'done', detail: `status ${c.status}, expires ${fmtTime(c.expires_at)}` }])
    } catch { /* the outcome is already shown */ }
    if (cfg.verify_api) {
      // The callback ran the config's check with the new token, before storing it: its answer is the trace's last step.
      show([...shown, { label: `Check (${cfg.verify_api})`, state: 'done', detail: 'called with the new token: its answer is the last step of the trace below' }])
    }
    showTrace()
  }
  return <details class="panel">
    <summary>Test connection: run the real flow in a popup</summary>
    <p class="hint">Uses the saved version of this config. The link needs the org's required settings: those the org set when it installed the app, or the settings' defaults; an org that never installed can test only when defaults cover them. The test user's connection is real and can be disconnected afterwards.</p>
    <div class="inline">
      <Field id={`${p}t-org`} label="Org id" value={org} onInput={setOrg} required error={err?.fieldError('org')} />
      <Field id={`${p}t-user`} label="User id" value={user} onInput={setUser} required error={err?.fieldError('user')} />
      <button type="button" onClick={start} disabled={!org || !user || !cfg.name}>Test connection</button>
    </div>
    {steps.length > 0 && <ol class="steps" aria-live="polite" id={`${p}t-steps`}>
      {steps.map(s => <li class={'step-' + s.state}><strong>{s.label}</strong>: {s.state === 'waiting' ? 'in progress' : s.state === 'done' ? 'done' : 'failed'}
        {s.detail && <><br /><span class="hint">{s.detail}</span></>}</li>)}
    </ol>}
    {traced && (traced.err ? <ErrorBox err={traced.err} /> : <LatestTrace app={app} path={traced.path} kind="authorization" before={traced.before} />)}
  </details>
}
