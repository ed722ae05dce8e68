// Package flow is Latchkey's OAuth 2 engine. It runs every provider's flow
// from the data of an app document alone: it builds the authorization link
// guarded by state and PKCE (RFC 6749 §4.1, RFC 7636), takes the callback,
// exchanges the code, extracts the tokens with the config's JSONPaths, stores
// them encrypted as user-level settings, and refreshes them (RFC 6749 §6)
// when they are read near or past their expiry.
//
// The engine depends on a store.Store, an *http.Client and a clock; it knows
// no HTTP framework, no database and no provider by name.
package flow
