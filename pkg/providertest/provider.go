package providertest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Style is the provider a fake behaves like.
type Style string

// The styles a fake provider can speak; see the package documentation.
const (
	Generic Style = "generic"
	Slack   Style = "slack"
	Slice   Style = "slice"
	Slingr  Style = "slingr"
	GitHub  Style = "github"
)

// Default client credentials, used when Options leaves them empty.
const (
	DefaultClientID     = "test-client-id"
	DefaultClientSecret = "test-client-secret"
)

// DefaultUser is the user who consents on the authorize endpoint until
// SetUser names another ("U1" for Slack).
const DefaultUser = "user-1"

// Options configure a fake provider. The zero value is a Generic provider
// with the default client and style defaults for every lifetime.
type Options struct {
	Style                  Style
	ClientID, ClientSecret string
	// Now is the provider's clock, for code, access and refresh token
	// expiry; time.Now when nil.
	Now func() time.Time
	// AccessTTL is the access tokens' lifetime; 0 means the style's default
	// (Generic 1h, Slice 1h, Slingr 8h, Slack 12h with rotation and never
	// without, GitHub never). A GitHub provider with an AccessTTL issues
	// expiring tokens and refresh tokens.
	AccessTTL time.Duration
	// RefreshTTL is the refresh tokens' lifetime; 0 means the style's
	// default (Slice 14 days, otherwise never).
	RefreshTTL time.Duration
	// CodeTTL is the authorization codes' lifetime; 0 means the style's
	// default (Slice 60 s, otherwise 10 min).
	CodeTTL time.Duration
	// NoExpiresIn leaves expires_in out of token answers (the token still
	// expires after AccessTTL); ExpiresInAsString sends it as a JSON string
	// ("3600"), as some providers do.
	NoExpiresIn, ExpiresInAsString bool
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// kills the old one (RFC 6749 §10.4, "refresh token rotation"). Slice
	// and expiring GitHub tokens always rotate; for Slack it also turns
	// token rotation on (expiring "xoxe" tokens).
	RotateRefreshTokens bool
	// RequirePKCE refuses authorize requests without a code_challenge
	// (RFC 7636 §4.4.1).
	RequirePKCE bool
	// Subdomain (Generic only) puts every endpoint under /t/{tenant}/, like
	// providers with per-tenant hosts; codes and tokens work only at the
	// tenant that issued them.
	Subdomain bool
	// Tenant is the tenant of the helper URLs: the environment for Slingr
	// (default "dev") and the tenant for a Subdomain provider (default
	// "acme").
	Tenant string
	// RedirectURIs, when set, are the registered callback URLs: the
	// authorize endpoint refuses any other redirect_uri, and styles where
	// redirect_uri is optional (Slingr, GitHub, Slack) use the first when
	// the request has none.
	RedirectURIs []string
	// AllowEarlyRefresh lets a Slingr provider refresh a token that has not
	// expired yet.
	AllowEarlyRefresh bool
	// RefreshGrace, with rotating refresh tokens, keeps a refresh token
	// that was rotated away usable for this long after its first use, as
	// providers with a reuse interval do (Okta, Auth0): a client that lost
	// the answer can refresh again with it and gets a new pair. Past it, or
	// when zero, the rotated token is refused with invalid_grant.
	RefreshGrace time.Duration
}

// Endpoint names the kind of request a provider received.
type Endpoint string

// Endpoints of a provider.
const (
	EndpointAuthorize Endpoint = "authorize"
	EndpointToken     Endpoint = "token" // code exchange and client credentials
	EndpointRefresh   Endpoint = "refresh"
	EndpointRevoke    Endpoint = "revoke"
	EndpointAPI       Endpoint = "api"
)

// Request is one request a provider received, as it arrived.
type Request struct {
	Endpoint Endpoint
	Method   string
	// URL is the request's path and query.
	URL    string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Form is the body parsed as application/x-www-form-urlencoded, nil for
	// any other content type; JSON is the body parsed as a JSON object, nil
	// when it is not one.
	Form   url.Values
	JSON   map[string]any
	Tenant string
	Time   time.Time
}

// Provider is a running fake provider. Its embedded httptest.Server gives
// URL and Client; the methods give the style's endpoint URLs.
type Provider struct {
	*httptest.Server
	opts   Options
	spec   styleSpec
	closed chan struct{}
	once   sync.Once

	tokenCalls, refreshCalls atomic.Int64
	conns                    atomic.Int64

	mu        sync.Mutex
	onRequest func(Request)
	user      string
	denyNext  int
	failures  []Failure
	requests  []Request
	codes     map[string]*codeRecord
	access    map[string]*accessRecord
	refresh   map[string]*refreshRecord
}

// grant is what a user allowed: who, to which client, at which tenant, with
// which scope.
type grant struct {
	user, client, tenant, scope string
	kind                        string // Slack: "bot" or "user"
}

type codeRecord struct {
	grant
	userScope   string // Slack user_scope
	redirectURI string
	challenge   string
	method      string
	expires     time.Time
	used        bool
	issued      []string // tokens issued for the code, revoked on reuse (RFC 6749 §4.1.2)
}

type accessRecord struct {
	grant
	expires time.Time // zero: never
}

type refreshRecord struct {
	grant
	expires time.Time // zero: never
	access  string    // the latest access token issued with it
	rotated time.Time // when it was first rotated away (RefreshGrace); zero: live
}

// usableAt reports whether r can still be used at now: not expired, and
// not rotated away longer than grace ago.
func (r *refreshRecord) usableAt(now time.Time, grace time.Duration) bool {
	return !expired(r.expires, now) && (r.rotated.IsZero() || !now.After(r.rotated.Add(grace)))
}

// New starts a fake provider; tb's cleanup closes it.
func New(tb testing.TB, opts Options) *Provider {
	tb.Helper()
	if opts.Style == "" {
		opts.Style = Generic
	}
	spec, ok := specs[opts.Style]
	if !ok {
		tb.Fatalf("providertest: unknown style %q", opts.Style)
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tenant == "" {
		switch {
		case opts.Style == Slingr:
			opts.Tenant = "dev"
		case opts.Subdomain:
			opts.Tenant = "acme"
		}
	}
	p := &Provider{
		opts:    opts,
		spec:    spec,
		closed:  make(chan struct{}),
		user:    DefaultUser,
		codes:   map[string]*codeRecord{},
		access:  map[string]*accessRecord{},
		refresh: map[string]*refreshRecord{},
	}
	if opts.Style == Slack {
		p.user = "U1"
	}
	p.Server = httptest.NewUnstartedServer(p.routes())
	p.Server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			p.conns.Add(1)
		}
	}
	p.Server.Start()
	tb.Cleanup(p.Close)
	return p
}

// Close stops the provider, first releasing requests that a Timeout failure
// holds. It is safe to call more than once.
func (p *Provider) Close() {
	p.once.Do(func() {
		close(p.closed)
		p.Server.Close()
	})
}

// prefix is the path all endpoints live under, with the tenant filled in.
func (p *Provider) prefix() string {
	switch {
	case p.opts.Style == Slingr:
		return "/" + p.opts.Tenant + "/runtime"
	case p.opts.Subdomain:
		return "/t/" + p.opts.Tenant
	}
	return ""
}

// BaseURL is the URL every endpoint lives under: the server's URL, plus the
// tenant's path for Slingr ("/dev/runtime") and Subdomain providers
// ("/t/acme").
func (p *Provider) BaseURL() string { return p.URL + p.prefix() }

// AuthorizeURL is the authorization endpoint (RFC 6749 §3.1).
func (p *Provider) AuthorizeURL() string { return p.BaseURL() + p.spec.authorize }

// TokenURL is the token endpoint (RFC 6749 §3.2).
func (p *Provider) TokenURL() string { return p.BaseURL() + p.spec.token }

// RefreshURL is where refresh requests go; every style refreshes at its
// token endpoint.
func (p *Provider) RefreshURL() string { return p.TokenURL() }

// RevokeURL is the revocation endpoint (RFC 7009 for Generic), or "" for a
// style without one (Slice, Slingr). GitHub's includes the client id.
func (p *Provider) RevokeURL() string {
	switch p.opts.Style {
	case Slice, Slingr:
		return ""
	case GitHub:
		return p.URL + "/applications/" + url.PathEscape(p.opts.ClientID) + "/token"
	}
	return p.BaseURL() + p.spec.revoke
}

// APIURL is the protected resource GET /api/me.
func (p *Provider) APIURL() string {
	if p.opts.Subdomain {
		return p.BaseURL() + "/api/me"
	}
	return p.URL + "/api/me"
}

// ClientID returns the client id the provider accepts.
func (p *Provider) ClientID() string { return p.opts.ClientID }

// ClientSecret returns the client secret the provider accepts.
func (p *Provider) ClientSecret() string { return p.opts.ClientSecret }

// OAuth2Config returns a golang.org/x/oauth2 client configuration for the
// provider, with the client authentication style it prefers.
func (p *Provider) OAuth2Config(redirectURL string, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if p.opts.Style == Generic || p.opts.Style == Slack {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     p.opts.ClientID,
		ClientSecret: p.opts.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthorizeURL(), TokenURL: p.TokenURL(), AuthStyle: style},
		RedirectURL:  redirectURL,
		Scopes:       scopes,
	}
}

// SetUser makes id the user who consents on the authorize endpoint from now
// on.
func (p *Provider) SetUser(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = id
}

// DenyNext makes the next authorize request redirect with
// error=access_denied, as when the user refuses (RFC 6749 §4.1.2.1).
func (p *Provider) DenyNext() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.denyNext++
}

// RevokeAll forgets every code and token, as when the user removes the
// app's access at the provider: refreshes then fail with invalid_grant (or
// the style's equivalent) and /api/me answers 401.
func (p *Provider) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes = map[string]*codeRecord{}
	p.access = map[string]*accessRecord{}
	p.refresh = map[string]*refreshRecord{}
}

// ValidAccessToken reports whether token is a live access token now.
func (p *Provider) ValidAccessToken(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.access[token]
	return ok && !expired(a.expires, p.opts.Now())
}

// ValidRefreshToken reports whether token is a live refresh token now.
func (p *Provider) ValidRefreshToken(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refresh[token]
	return ok && r.usableAt(p.opts.Now(), p.opts.RefreshGrace)
}

// Requests returns a copy of every request received so far, in order of
// arrival.
func (p *Provider) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// RequestsTo returns the requests received at endpoint e, in order.
func (p *Provider) RequestsTo(e Endpoint) []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Endpoint == e {
			out = append(out, r)
		}
	}
	return out
}

// TokenCalls counts the requests to the token endpoint that were not
// refreshes (code exchanges, client credentials, unreadable requests),
// failed ones included.
func (p *Provider) TokenCalls() int64 { return p.tokenCalls.Load() }

// Connections counts the TCP connections clients have opened to the
// provider.
func (p *Provider) Connections() int64 { return p.conns.Load() }

// RefreshCalls counts refresh requests (grant_type=refresh_token), failed
// ones included.
func (p *Provider) RefreshCalls() int64 { return p.refreshCalls.Load() }

func expired(at, now time.Time) bool { return !at.IsZero() && !now.Before(at) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomAlnum(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// capture reads the request's body, leaves a fresh reader in its place, and
// returns the request as received.
func (p *Provider) capture(r *http.Request, e Endpoint) Request {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := Request{
		Endpoint: e,
		Method:   r.Method,
		URL:      r.URL.RequestURI(),
		Query:    r.URL.Query(),
		Header:   r.Header.Clone(),
		Body:     body,
		Tenant:   r.PathValue("tenant"),
		Time:     p.opts.Now(),
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		rec.Form, _ = url.ParseQuery(string(body))
	case "application/json":
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			rec.JSON = m
		}
	}
	return rec
}

// keep records a request and counts it.
func (p *Provider) keep(rec Request) {
	switch rec.Endpoint {
	case EndpointToken:
		p.tokenCalls.Add(1)
	case EndpointRefresh:
		p.refreshCalls.Add(1)
	}
	p.mu.Lock()
	p.requests = append(p.requests, rec)
	hook := p.onRequest
	p.mu.Unlock()
	if hook != nil {
		hook(rec)
	}
}

// OnRequest makes fn hear every request the provider receives from now on
// (nil: none), as it arrives: before the provider does the work or answers,
// and before any queued failure strikes. The request waits for fn to
// return, so a test can act exactly while a request is in flight (lock a
// database while a refresh is being answered). fn runs on the server's
// goroutines and must be safe for concurrent use.
func (p *Provider) OnRequest(fn func(Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRequest = fn
}

// param returns a parameter of a token request from where the style reads
// parameters: the query string for Slingr, the form body (or, for Generic, a
// JSON body) otherwise.
func (p *Provider) param(rec Request, name string) string {
	if p.opts.Style == Slingr {
		return rec.Query.Get(name)
	}
	if rec.Form != nil {
		return rec.Form.Get(name)
	}
	if rec.JSON != nil && p.opts.Style == Generic {
		if s, ok := rec.JSON[name].(string); ok {
			return s
		}
	}
	return ""
}

// tenantOf returns the tenant a request is addressed to.
func (p *Provider) tenantOf(r *http.Request) string { return r.PathValue("tenant") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func hasBearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// Authorize plays the browser on a link to the authorize endpoint: it GETs
// authURL without following the redirect and returns the Location the
// provider sends, the callback URL with code and state, or with error (RFC
// 6749 §4.1.2). It fails the test unless the answer is a redirect.
func (p *Provider) Authorize(tb testing.TB, authURL string) *url.URL {
	tb.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		tb.Fatalf("providertest: authorize: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("providertest: authorize: got HTTP %d (%s), want a 302 redirect", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		tb.Fatalf("providertest: authorize: bad Location: %v", err)
	}
	return loc
}
