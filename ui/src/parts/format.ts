// One format for every time the UI shows.

// The browser's time zone, named, with the date spelled out the same way everywhere.
const timeFormat = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' })

/** fmtTime formats an RFC 3339 time, or gives a dash for none. */
export function fmtTime(t?: string) { return t ? timeFormat.format(new Date(t)) : '—' }

/** fmtTimesIn writes the RFC 3339 times inside a server's text (an audit detail: "link … expires 2026-11-23T10:00:00Z") in the same format. */
export function fmtTimesIn(text?: string) { return (text || '').replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, t => fmtTime(t)) }
