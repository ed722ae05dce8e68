import type { Schemas } from './api'

// toYAML writes a JSON value as a YAML document in block style, the format
// `latchkey apply` reads. Strings are double-quoted where YAML could read
// them otherwise.
export function toYAML(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]'
    return v.map(x => {
      const inner = toYAML(x, indent + '  ')
      return '\n' + indent + '- ' + (isObj(x) ? inner.replace(/^\n\s*/, '') : inner)
    }).join('')
  }
  if (isObj(v)) {
    const keys = Object.keys(v as object)
    if (keys.length === 0) return '{}'
    return keys.map(k => {
      const x = (v as Record<string, unknown>)[k]
      const inner = toYAML(x, indent + '  ')
      return '\n' + indent + scalar(k) + ':' + ((isObj(x) && Object.keys(x).length) || (Array.isArray(x) && x.length) ? inner : ' ' + inner)
    }).join('')
  }
  return scalar(v)
}

function isObj(v: unknown): v is Record<string, unknown> { return typeof v === 'object' && v !== null && !Array.isArray(v) }

function scalar(v: unknown): string {
  if (typeof v === 'string') return /^[A-Za-z_][A-Za-z0-9_.\/ -]*$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) && !v.endsWith(' ') ? v : JSON.stringify(v)
  if (v === null || v === undefined) return 'null'
  return String(v)
}

// REDACTED is what the API shows in place of a secret value.
export const REDACTED = '********'

// documentYAML writes an app as read from the API as a document to export.
// Secret values (shown redacted: a config's values, a secret setting's
// default) are left out, and a comment at the top
// names them: the server refuses the placeholder as a value, so an export
// imported elsewhere never stores it as a secret.
export function documentYAML(app: Schemas['App']): string {
  // The read-only parts of an answer are not part of the document.
  const { revision, created_at, updated_at, callback_url, ...doc } = structuredClone(app)
  const left: string[] = []
  for (const st of doc.settings ?? []) {
    if (st.default === REDACTED) { delete st.default; left.push(`the default of ${st.name}`) }
  }
  for (const c of doc.oauth_configs ?? []) {
    if (!c.values) continue
    for (const k of Object.keys(c.values)) {
      if (c.values[k] === REDACTED) { delete c.values[k]; left.push(`${k} (config ${c.name})`) }
    }
    if (Object.keys(c.values).length === 0) delete c.values
  }
  const head = left.length === 0 ? '' :
    '# Secret values are left out of this export: ' + left.join(', ') + '.\n' +
    '# Write them in (a config\'s values:, a setting\'s default:) before applying this document, or set them as each org\'s settings.\n'
  return head + toYAML(doc).replace(/^\n/, '') + '\n'
}
