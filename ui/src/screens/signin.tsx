// Sign-in: the admin's email and password, then back to the page that
// sent them here.
import { useState } from 'preact/hooks'
import { api, APIError, type Schemas } from '../api'
import { Field } from '../parts'

type Session = Schemas['Session']

export function SignIn({ onDone, notice }: { onDone: (s: Session) => void; notice?: string }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [err, setErr] = useState<APIError>()
  const submit = async (e: Event) => {
    e.preventDefault()
    try { onDone(await api<Session>('POST', '/session', { email, password })) } catch (x) { setErr(x as APIError) }
  }
  return <main class="narrow" id="main">
    <h1>Sign in to Latchkey</h1>
    {notice && <p class="notice" role="status" id="signin-notice">{notice}</p>}
    <form onSubmit={submit} novalidate>
      {err && !err.details.length && <div class="alert" role="alert">{err.message}</div>}
      <Field id="email" label="Email" type="email" autocomplete="username" value={email} onInput={setEmail} error={err?.fieldError('email')} required />
      <Field id="password" label="Password" type="password" autocomplete="current-password" value={password} onInput={setPassword} error={err?.fieldError('password')} required />
      <button class="primary" type="submit">Sign in</button>
    </form>
    <p class="hint">The first account is printed when the server first starts; then an admin adds others on the Admins screen, or with <code>latchkey admins create --email you@example.com</code>.</p>
  </main>
}

// resumeNext goes back to the page that sent the person to sign in (the
// OAuth server's authorization page: /ui/?next=/dev/oauth/authorize?…),
// when it is a path of this origin, and reports whether it did.
export function resumeNext(): boolean {
  const next = new URLSearchParams(location.search).get('next')
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return false
  const u = new URL(next, location.origin)
  if (u.origin !== location.origin || !/^\/[a-z0-9][a-z0-9_-]{0,62}\/oauth\/authorize$/.test(u.pathname)) return false
  location.assign(u.pathname + u.search)
  return true
}
