// The readiness mark the browser tests time: window.__latchkeyReady is
// when (performance.now()) a screen was last rendered with its data.

declare global { interface Window { __latchkeyReady?: number } }

/** markReady records that the screen now shows its data (call it from an effect, which runs after the render). */
export function markReady() { window.__latchkeyReady = performance.now() }
