// The flow traces of a connection: every authorization, exchange, refresh
// and proxied call as a list of steps, with the request and the answer.
// (Being built: the trace store and its API come with this part.)

/** ConnectionTraces lists the traces of one connection, newest first. */
export function ConnectionTraces(_: { app: string; org: string; user?: string; config: string }) {
  return null
}
