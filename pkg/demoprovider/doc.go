// Package demoprovider is a small but real OAuth 2 authorization server,
// built on github.com/go-oauth2/oauth2/v4 (its manager, server and
// in-memory stores), for trying Latchkey without an account at any
// provider and for testing Latchkey against a server it did not write.
//
// It serves:
//
//	GET  /           a page listing the endpoints
//	GET  /authorize  the authorization endpoint (RFC 6749 §4.1.1): a login
//	                 page (any user name, the password DemoPassword, shown on
//	                 the page), then a consent page ("<client> wants access
//	                 to: <scopes>", Allow or Deny)
//	POST /login      the login form
//	POST /authorize  the consent form; Allow redirects with a code, Deny
//	                 with error=access_denied (RFC 6749 §4.1.2.1)
//	POST /token      code exchange (§4.1.3) with PKCE (RFC 7636 §4.6) and
//	                 refresh (§6) with rotating refresh tokens; the client
//	                 authenticates with HTTP Basic or in the body (§2.3.1)
//	GET  /api/me     the protected resource: the user, for a valid Bearer
//	                 token (RFC 6750 §2.1)
//
// Its pages load nothing from elsewhere: the CSS is inline. State lives in
// memory and is lost when the process stops.
package demoprovider
