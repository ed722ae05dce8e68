// The audit log of the environment, newest first.
import { useState } from 'preact/hooks'
import { api, enc, type Answer } from '../api'
import { ErrorBox, Field, fmtTime, fmtTimesIn, useLoad } from '../parts'

export function Audit() {
  const [app, setApp] = useState('')
  const [data, err] = useLoad(() => api<Answer<'/audit', 'get'>>('GET', '/audit?limit=200' + (app ? '&app=' + enc(app) : '')), [app])
  return <>
    <h1>Audit log</h1>
    <Field id="audit-app" label="Filter by app" value={app} onInput={setApp} />
    <ErrorBox err={err} />
    {data && <table tabIndex={0} aria-label="Audit events"><thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">App</th><th scope="col">Org</th><th scope="col">User</th><th scope="col">Config</th><th scope="col">Detail</th></tr></thead>
      <tbody>{data.events.map(e => <tr><td>{fmtTime(e.time)}</td><td>{e.actor}</td><td>{e.action}</td><td>{e.app}</td><td>{e.org}</td><td>{e.user}</td><td>{e.config}</td><td>{fmtTimesIn(e.detail)}</td></tr>)}</tbody></table>}
  </>
}
