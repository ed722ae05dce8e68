// Admin accounts of the builder UI (every environment has the same): the
// list with "you" beside your own, add one, delete one (never yourself),
// and change a password. Changing your own asks for the current one; the
// server then renews your session and signs your other browsers out.
import { useState } from 'preact/hooks'
import { api, APIError, enc, setCSRF, type Answer } from '../api'
import { ErrorBox, Field, fmtTime, useLoad } from '../parts'

type Renewed = Answer<'/admins/{email}/password', 'put'>

export function Admins({ me }: { me: string }) {
  const [data, err, reload] = useLoad(() => api<Answer<'/admins', 'get'>>('GET', '/admins'), [])
  const [form, setForm] = useState({ email: '', password: '' })
  const [addErr, setAddErr] = useState<APIError>()
  const [added, setAdded] = useState('')
  const [delErr, setDelErr] = useState<APIError>()
  const [deleted, setDeleted] = useState('')
  const [changing, setChanging] = useState('')
  const add = async (e: Event) => {
    e.preventDefault(); setAddErr(undefined); setAdded('')
    try {
      const a = await api<Answer<'/admins', 'post', 201>>('POST', '/admins', { email: form.email.trim(), password: form.password })
      setAdded(a.email); setForm({ email: '', password: '' }); reload()
    } catch (x) { setAddErr(x as APIError) }
  }
  const remove = async (email: string) => {
    if (!confirm(`Delete the admin account ${email}? Its sessions end at once.`)) return
    setDelErr(undefined); setDeleted('')
    try { await api('DELETE', '/admins/' + enc(email)); setDeleted(email); if (changing === email) setChanging(''); reload() } catch (x) { setDelErr(x as APIError) }
  }
  const addFields = ['email', 'password']
  return <>
    <h1>Admins</h1>
    <p>The accounts that sign in to this builder UI. They are the same in every environment.</p>
    <ErrorBox err={err || delErr} />
    {deleted && <p class="ok" role="status" id="admin-deleted">Admin {deleted} deleted; its sessions have ended.</p>}
    {data && <table class="admins" id="admins" aria-label="Admin accounts" tabIndex={0}><thead><tr><th scope="col">Email</th><th scope="col">Created</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>{data.admins.map(a => <tr data-admin={a.email}><td>{a.email}{a.email === me && <span class="you"> (you)</span>}</td><td>{fmtTime(a.created_at)}</td>
        <td><button type="button" class="link" aria-expanded={changing === a.email} onClick={() => setChanging(changing === a.email ? '' : a.email)}>Change password<span class="sr"> of {a.email}</span></button>{' · '}
          <button type="button" class="link danger" disabled={a.email === me} title={a.email === me ? 'You cannot delete the account you are signed in with' : undefined}
            onClick={() => remove(a.email)}>Delete<span class="sr"> {a.email}</span></button></td></tr>)}</tbody></table>}
    {changing && <ChangePassword email={changing} own={changing === me} onDone={() => setChanging('')} key={changing} />}
    <section aria-labelledby="admin-new-h"><h2 id="admin-new-h">Add an admin</h2>
      <form onSubmit={add} class="inline" noValidate>
        <Field id="admin-email" label="Email" type="email" autocomplete="off" value={form.email} onInput={v => setForm({ ...form, email: v })} error={addErr?.fieldError('email')} required />
        <Field id="admin-password" label="Password" type="password" autocomplete="new-password" value={form.password} onInput={v => setForm({ ...form, password: v })}
          error={addErr?.fieldError('password')} hint="12 to 72 characters; give it to the person yourself" required />
        <button class="primary" type="submit">Add admin</button>
      </form>
      {addErr && !addFields.some(f => addErr.fieldError(f)) && <ErrorBox err={addErr} />}
      {added && <p class="ok" role="status" id="admin-added">Admin {added} added: they can sign in now.</p>}
    </section>
  </>
}

// ChangePassword sets a new password for email: your own needs the current
// one, and keeps you signed in on a renewed session.
function ChangePassword({ email, own, onDone }: { email: string; own: boolean; onDone: () => void }) {
  const [current, setCurrent] = useState('')
  const [password, setPassword] = useState('')
  const [err, setErr] = useState<APIError>()
  const [done, setDone] = useState(false)
  const save = async (e: Event) => {
    e.preventDefault(); setErr(undefined); setDone(false)
    try {
      const path = '/admins/' + enc(email) + '/password'
      if (own) {
        const s = await api<Renewed>('PUT', path, { password, current_password: current })
        setCSRF(s.csrf_token)
      } else await api('PUT', path, { password })
      setCurrent(''); setPassword(''); setDone(true)
    } catch (x) { setErr(x as APIError) }
  }
  const fields = ['password', 'current_password']
  return <section aria-labelledby="admin-password-h" class="admin-password"><h2 id="admin-password-h">Change the password of {own ? 'your account' : email}</h2>
    <p class="hint">{own ? 'Changing it signs your other browsers out; this one stays signed in.' : `Changing it ends every session of ${email}: they sign in again with the new password.`}</p>
    <form onSubmit={save} class="inline" noValidate>
      {own && <Field id="admin-current-password" label="Current password" type="password" autocomplete="current-password" value={current} onInput={setCurrent}
        error={err?.fieldError('current_password')} required />}
      <Field id="admin-new-password" label="New password" type="password" autocomplete="new-password" value={password} onInput={setPassword}
        error={err?.fieldError('password')} hint="12 to 72 characters" required />
      <button class="primary" type="submit">Change password</button>{' '}
      <button type="button" onClick={onDone}>Close</button>
    </form>
    {err && !fields.some(f => err.fieldError(f)) && <ErrorBox err={err} />}
    {done && <p class="ok" role="status" id="admin-password-changed">The password of {own ? 'your account' : email} is changed.</p>}
  </section>
}
