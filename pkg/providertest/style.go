package providertest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// styleSpec holds what differs between styles and is plain data.
type styleSpec struct {
	authorize, token, revoke string // paths under the provider's prefix
	// responseType: the authorize request must carry response_type=code.
	responseType bool
	// redirectOptional: the authorize request may leave redirect_uri out
	// (the registered one is used).
	redirectOptional bool
	codeTTL          time.Duration
	denyDescription  string
}

var specs = map[Style]styleSpec{
	Generic: {authorize: "/oauth/authorize", token: "/oauth/token", revoke: "/oauth/revoke",
		responseType: true, codeTTL: 10 * time.Minute,
		denyDescription: "The resource owner denied the request."},
	Slack: {authorize: "/oauth/v2/authorize", token: "/api/oauth.v2.access", revoke: "/api/auth.revoke",
		redirectOptional: true, codeTTL: 10 * time.Minute},
	Slice: {authorize: "/oauth/authorize", token: "/oauth/token",
		responseType: true, codeTTL: 60 * time.Second,
		denyDescription: "The user denied access to your application"},
	Slingr: {authorize: "/oauth/authorize", token: "/api/oauth/token",
		responseType: true, redirectOptional: true, codeTTL: 10 * time.Minute,
		denyDescription: "App is not authorized by the user."},
	GitHub: {authorize: "/login/oauth/authorize", token: "/login/oauth/access_token",
		redirectOptional: true, codeTTL: 10 * time.Minute,
		denyDescription: "The user has denied your application access."},
}

func (p *Provider) codeTTL() time.Duration {
	if p.opts.CodeTTL > 0 {
		return p.opts.CodeTTL
	}
	return p.spec.codeTTL
}

// accessTTL is the lifetime of new access tokens; 0 means they never expire.
func (p *Provider) accessTTL() time.Duration {
	if p.opts.AccessTTL > 0 {
		return p.opts.AccessTTL
	}
	switch p.opts.Style {
	case Slingr:
		return 8 * time.Hour
	case Slack:
		if p.opts.RotateRefreshTokens {
			return 12 * time.Hour
		}
		return 0
	case GitHub:
		return 0
	}
	return time.Hour
}

// issuesRefresh reports whether the code exchange returns a refresh token.
func (p *Provider) issuesRefresh() bool {
	switch p.opts.Style {
	case Slack:
		return p.opts.RotateRefreshTokens
	case GitHub:
		return p.opts.AccessTTL > 0
	}
	return true
}

// rotates reports whether a refresh kills the refresh token it used.
func (p *Provider) rotates() bool {
	switch p.opts.Style {
	case Slice, GitHub:
		return true
	}
	return p.opts.RotateRefreshTokens
}

func (p *Provider) refreshTTL() time.Duration {
	if p.opts.RefreshTTL > 0 {
		return p.opts.RefreshTTL
	}
	switch p.opts.Style {
	case Slice:
		return 14 * 24 * time.Hour
	case GitHub:
		return 184 * 24 * time.Hour
	}
	return 0
}

// newAccessToken returns an access token in the style's format.
func (p *Provider) newAccessToken(kind string) string {
	switch p.opts.Style {
	case Slack:
		prefix := "xoxb-"
		if kind == "user" {
			prefix = "xoxp-"
		}
		if p.opts.RotateRefreshTokens {
			prefix = "xoxe." + prefix + "1-"
		}
		return prefix + randomHex(16)
	case GitHub:
		if p.opts.AccessTTL > 0 {
			return "ghu_" + randomAlnum(36)
		}
		return "gho_" + randomAlnum(36)
	case Slingr:
		return randomAlnum(32)
	case Slice:
		return randomHex(16)
	}
	return "at-" + randomHex(16)
}

func (p *Provider) newRefreshToken() string {
	switch p.opts.Style {
	case Slack:
		return "xoxe-1-" + randomHex(24)
	case GitHub:
		return "ghr_" + randomAlnum(76)
	case Slingr:
		return randomAlnum(20)
	case Slice:
		return randomHex(16)
	}
	return "rt-" + randomHex(16)
}

// errKind is a token-endpoint failure, rendered in each style's own words.
type errKind int

const (
	eInvalidRequest   errKind = iota // a parameter is missing or malformed
	eInvalidClient                   // no client id, or an unknown one
	eBadSecret                       // a missing or wrong client secret
	eInvalidCode                     // unknown, foreign or reused code
	eCodeExpired                     // the code outlived its TTL
	eRedirectMismatch                // redirect_uri differs from the authorize request's
	eBadVerifier                     // PKCE verifier missing or wrong (RFC 7636 §4.6)
	eGrantType                       // unsupported grant_type
	eInvalidRefresh                  // unknown, foreign, revoked or rotated-out refresh token
	eRefreshExpired                  // the refresh token outlived its TTL
	eNotYetExpired                   // Slingr: refresh while the access token is valid
)

// rfcErrors are the RFC 6749 §5.2 codes and descriptions (Generic, Slice).
var rfcErrors = map[errKind][3]string{
	eInvalidRequest:   {"400", "invalid_request", ""},
	eInvalidClient:    {"401", "invalid_client", "Client authentication failed."},
	eBadSecret:        {"401", "invalid_client", "Client authentication failed."},
	eInvalidCode:      {"400", "invalid_grant", "The authorization code is invalid or was already used."},
	eCodeExpired:      {"400", "invalid_grant", "The authorization code has expired."},
	eRedirectMismatch: {"400", "invalid_grant", "The redirect_uri does not match the authorization request."},
	eBadVerifier:      {"400", "invalid_grant", "The code_verifier does not match the code_challenge."},
	eGrantType:        {"400", "unsupported_grant_type", "The grant type is not supported."},
	eInvalidRefresh:   {"400", "invalid_grant", "The refresh token is invalid, expired or revoked."},
	eRefreshExpired:   {"400", "invalid_grant", "The refresh token has expired."},
	eNotYetExpired:    {"400", "invalid_request", "The access token has not expired."},
}

// slackErrors are oauth.v2.access's error codes (seed 003).
var slackErrors = map[errKind]string{
	eInvalidRequest:   "invalid_arguments",
	eInvalidClient:    "invalid_client_id",
	eBadSecret:        "bad_client_secret",
	eInvalidCode:      "invalid_code",
	eCodeExpired:      "invalid_code",
	eRedirectMismatch: "bad_redirect_uri",
	eBadVerifier:      "invalid_code_verifier",
	eGrantType:        "invalid_grant_type",
	eInvalidRefresh:   "invalid_refresh_token",
	eRefreshExpired:   "invalid_refresh_token",
	eNotYetExpired:    "invalid_refresh_token",
}

// githubErrors are the codes and descriptions GitHub sends with HTTP 200.
var githubErrors = map[errKind][2]string{
	eInvalidRequest:   {"invalid_request", "A required parameter is missing."},
	eInvalidClient:    {"incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."},
	eBadSecret:        {"incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."},
	eInvalidCode:      {"bad_verification_code", "The code passed is incorrect or expired."},
	eCodeExpired:      {"bad_verification_code", "The code passed is incorrect or expired."},
	eRedirectMismatch: {"redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application."},
	eBadVerifier:      {"bad_verification_code", "The code_verifier does not match the code_challenge."},
	eGrantType:        {"unsupported_grant_type", "The grant type is not supported."},
	eInvalidRefresh:   {"bad_refresh_token", "The refresh token passed is incorrect or expired."},
	eRefreshExpired:   {"bad_refresh_token", "The refresh token passed is incorrect or expired."},
	eNotYetExpired:    {"bad_refresh_token", "The refresh token passed is incorrect or expired."},
}

// slingrErrors are the messages of seed 000's error table, all HTTP 400.
var slingrErrors = map[errKind]string{
	eInvalidRequest:   "Invalid grant type. Only authorization_code and refresh_token are accepted values.",
	eInvalidClient:    "Invalid client ID.",
	eBadSecret:        "Invalid client ID.",
	eInvalidCode:      "Invalid authorization code.",
	eCodeExpired:      "Authorization code has expired.",
	eRedirectMismatch: "Invalid authorization code.",
	eBadVerifier:      "Invalid authorization code.",
	eGrantType:        "Invalid grant type. Only authorization_code and refresh_token are accepted values.",
	eInvalidRefresh:   "Invalid authorization code.",
	eRefreshExpired:   "Refresh token has expired.",
	eNotYetExpired:    "Token is not yet expired.",
}

// tokenError answers a token, refresh or revoke request with the style's
// error. detail, when set, replaces the description of an invalid_request.
func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, k errKind, detail string) {
	switch p.opts.Style {
	case Slack:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": slackErrors[k]})
	case GitHub:
		e := githubErrors[k]
		p.writeGitHub(w, r, map[string]any{"error": e[0], "error_description": e[1],
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"})
	case Slingr:
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": "badRequest", "message": slingrErrors[k]})
	default:
		e := rfcErrors[k]
		status, _ := strconv.Atoi(e[0])
		desc := e[2]
		if detail != "" {
			desc = detail
		}
		if status == http.StatusUnauthorized {
			// RFC 6749 §5.2: invalid_client with a Basic challenge.
			w.Header().Set("WWW-Authenticate", `Basic realm="providertest"`)
		}
		writeJSON(w, status, map[string]any{"error": e[1], "error_description": desc})
	}
}

// writeGitHub writes a GitHub token-endpoint answer: JSON when the request
// accepts application/json, form-encoded otherwise (always with HTTP 200).
func (p *Provider) writeGitHub(w http.ResponseWriter, r *http.Request, m map[string]any) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, m)
		return
	}
	v := url.Values{}
	for k, x := range m {
		switch x := x.(type) {
		case string:
			v.Set(k, x)
		case int64:
			v.Set(k, strconv.FormatInt(x, 10))
		case int:
			v.Set(k, strconv.Itoa(x))
		}
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(v.Encode()))
}
