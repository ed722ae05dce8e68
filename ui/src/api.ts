// The UI's only channel to the server: the /api/v1 JSON API, with the
// session cookie and, on every change, the session's CSRF token. The
// shapes of its answers come from the OpenAPI document (openapi.ts is
// generated from pkg/httpapi/openapi/openapi.yaml: npm run gen:api).

import type { components, paths } from './openapi'

/** Schemas are the document's named schemas (App, Connection, APIKey, …). */
export type Schemas = components['schemas']

type JSONOf<R> = R extends { content: { 'application/json': infer B } } ? B : never
type Op<P extends keyof paths, M extends string> = M extends keyof paths[P] ? NonNullable<paths[P][M]> : never

/** Answer is the JSON body of the response with status S to method M on the API path P (without /api/v1). */
export type Answer<P extends string, M extends 'get' | 'put' | 'post' | 'patch' | 'delete', S extends number = 200> =
  `/api/v1${P}` extends keyof paths
    ? Op<`/api/v1${P}`, M> extends { responses: infer R } ? S extends keyof R ? JSONOf<R[S]> : never : never
    : never

export interface FieldError { field: string; message: string }
export class APIError extends Error {
  constructor(public status: number, public code: string, message: string, public details: FieldError[] = [],
    public provider?: { code?: string; description?: string }) { super(message) }
  /** fieldError returns the message of the detail naming field, or a field inside it. */
  fieldError(field: string): string | undefined {
    const d = this.details.find(d => d.field === field || d.field.startsWith(field + '.') || d.field.startsWith(field + '['))
    return d?.message
  }
}

let csrf = ''
export function setCSRF(token: string) { csrf = token }

// The environment every request acts in (X-Latchkey-Environment): the
// switcher in the header sets it; it is kept across reloads.
let environment = localStorage.getItem('latchkey.environment') || 'dev'
export function currentEnvironment() { return environment }
export function setEnvironment(env: string) { environment = env; localStorage.setItem('latchkey.environment', env) }

// The session's end: a 401 on a request made while signed in means the
// session expired or was signed out elsewhere; the shell goes back to the
// sign-in screen instead of showing the API's "an API key is required".
let unauthorized: (() => void) | undefined
export function onUnauthorized(fn?: () => void) { unauthorized = fn }

export async function api<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json',
  extraHeaders: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Latchkey-Environment': environment, ...extraHeaders }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf
  let payload: BodyInit | undefined
  if (body !== undefined) {
    headers['Content-Type'] = contentType
    payload = typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body)
  }
  const resp = await fetch('/api/v1' + path, { method, headers, body: payload, credentials: 'same-origin' })
  if (resp.status === 204) return undefined as T
  const data = await resp.json().catch(() => ({}))
  if (resp.status === 401 && unauthorized) unauthorized()
  if (!resp.ok) {
    const e = data.error || {}
    throw new APIError(resp.status, e.code || 'error', e.message || resp.statusText, e.details || [], e.provider)
  }
  return data as T
}

export const enc = encodeURIComponent
