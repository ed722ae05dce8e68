// The hash names the screen (#/apps/my-app/orgs). A screen with unsaved
// edits sets a leave guard; a move to another screen, or to another
// environment, asks it first and stays when it says no.
import { useEffect, useState } from 'preact/hooks'

let leaveGuard: (() => boolean) | undefined

/** guardLeave sets (or, without ask, clears) the question asked before leaving the screen. */
export function guardLeave(ask?: () => boolean) { leaveGuard = ask }

/** mayLeave asks the leave guard, if there is one, and reports whether the screen may be left. */
export function mayLeave(): boolean { return !leaveGuard || leaveGuard() }

/** useRoute is the current hash split into its decoded parts. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    let current = location.hash
    const on = () => {
      if (location.hash !== current && !mayLeave()) {
        history.replaceState(null, '', current || '#/')
        return
      }
      current = location.hash
      setHash(current)
    }
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent)
}

/** go moves to the screen at path (without the leading #/). */
export const go = (path: string) => { location.hash = '#/' + path }
