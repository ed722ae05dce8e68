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
      const x = (v as any)[k]
      const inner = toYAML(x, indent + '  ')
      return '\n' + indent + scalar(k) + ':' + ((isObj(x) && Object.keys(x).length) || (Array.isArray(x) && x.length) ? inner : ' ' + inner)
    }).join('')
  }
  return scalar(v)
}

function isObj(v: unknown): boolean { return typeof v === 'object' && v !== null && !Array.isArray(v) }

function scalar(v: unknown): string {
  if (typeof v === 'string') return /^[A-Za-z_][A-Za-z0-9_.\/ -]*$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) && !v.endsWith(' ') ? v : JSON.stringify(v)
  if (v === null || v === undefined) return 'null'
  return String(v)
}

export function documentYAML(app: any): string {
  const { revision, created_at, updated_at, ...doc } = app
  return toYAML(doc).replace(/^\n/, '') + '\n'
}
