// Loading a screen's data.
import { useEffect, useState } from 'preact/hooks'
import { markReady } from './ready'

/** useLoad runs load when deps change and gives its data, its error, and a function that loads again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, unknown, () => void] {
  const [data, setData] = useState<T>()
  const [err, setErr] = useState<unknown>()
  const [n, setN] = useState(0)
  useEffect(() => { setErr(undefined); load().then(setData, setErr) }, [...deps, n])
  // An effect runs once the data is rendered: the screen is ready.
  useEffect(() => { if (data !== undefined) markReady() }, [data])
  return [data, err, () => setN(n + 1)]
}
