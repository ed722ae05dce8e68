// Package httpapi is Latchkey's HTTP face: the /api/v1 JSON API for admins
// and app backends (authenticated with API keys), the end-user pages of a
// flow (/connect and /oauth/callback), and health checks. Handlers are
// methods on Server, one file per resource; every error goes through one
// handler that writes {"error": {"code", "message", "details"}} or, on the
// end-user pages, an error page.
package httpapi
