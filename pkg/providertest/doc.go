// Package providertest runs fake OAuth 2 providers for tests: real HTTP
// servers (net/http/httptest) that behave like the providers Latchkey
// integrates, quirks and failures included, and record what they receive.
//
// A Provider speaks one Style:
//
//   - Generic: RFC 6749 as written. GET /oauth/authorize (§4.1.1), POST
//     /oauth/token for the authorization_code (§4.1.3), refresh_token (§6) and
//     client_credentials (§4.4) grants, client authentication in an HTTP Basic
//     header or in the body but not both (§2.3.1), errors as HTTP 400/401 JSON
//     {"error","error_description"} (§5.2), POST /oauth/revoke (RFC 7009).
//     With Options.Subdomain every path lives under /t/{tenant}/ and codes and
//     tokens are bound to their tenant.
//   - Slack: GET /oauth/v2/authorize and POST /api/oauth.v2.access. Client
//     credentials in HTTP Basic (preferred) or the form body; errors are HTTP
//     200 {"ok":false,"error":"invalid_code"}; the answer nests the user token
//     under authed_user; with RotateRefreshTokens the tokens expire and refresh
//     tokens ("xoxe-1-…") rotate. POST /api/auth.revoke.
//   - Slice: GET /oauth/authorize and POST /oauth/token with credentials in the
//     form body only; codes expire after 60 s; refresh tokens always rotate and
//     live 14 days.
//   - Slingr: GET /{env}/runtime/oauth/authorize and POST
//     /{env}/runtime/api/oauth/token with every parameter in the query string
//     and none in the body; no client secret; the refresh token is sent as
//     "code"; errors are HTTP 400 {"code":"badRequest","message":"Invalid
//     authorization code."}; a refresh before the access token expired is
//     refused ("Token is not yet expired.").
//   - GitHub: GET /login/oauth/authorize and POST /login/oauth/access_token;
//     the answer is form-encoded unless the request accepts application/json;
//     errors come with HTTP 200 (error=bad_verification_code&…); tokens never
//     expire unless AccessTTL is set (then "ghr_" refresh tokens rotate).
//     DELETE /applications/{client_id}/token revokes.
//
// Every style serves GET /api/me (under the tenant prefix when there is one):
// 200 with the user for a valid Bearer token (RFC 6750 §2.1), 401 otherwise;
// and a protected API that behaves like real ones (see api.go): a paginated
// list with Link headers, a large streamed download, an upload read as it
// streams, slow answers, 429 with Retry-After, redirects, an echo of the
// request, and any status and body on demand. RevokeAccessTokens revokes the
// access tokens before their expiry while refreshes keep working.
//
// The authorize endpoint plays the user consenting at once and redirects
// with a code; DenyNext makes the next one deny. FailNext makes the next
// requests fail (status, timeout, reset, HTML page, truncated JSON, slow
// answer). OnRequest hears each request as it arrives, before it is answered.
// With RotateRefreshTokens, Options.RefreshGrace keeps a rotated refresh token
// usable for a while, as providers with a reuse interval do. Time comes from
// Options.Now, so expiry is tested without sleeping.
package providertest
