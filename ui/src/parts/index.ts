// The shared parts every screen uses (the Go side's pkg/ of the UI).
export { ErrorBox, ErrorSummary } from './errors'
export { Field, ListField, SelectField } from './fields'
export { fmtTime, fmtTimesIn } from './format'
export { useLoad } from './load'
export { CopyValue } from './copy'
export { JSONField } from './json'
export { markReady } from './ready'
export { ConnectionTraces, LatestTrace, TraceTable, TraceView, traceIDs, traceKinds } from './trace'
