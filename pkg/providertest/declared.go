package providertest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/template"
)

// Declared is a fake provider built from one OAuth config: it serves the
// config's own endpoints (authorize, token, refresh, revocation and the
// verification API) at the paths the config declares, and enforces every
// quirk the config declares, so that a document that says basic is refused
// without an HTTP Basic header, one that says json without a JSON body, and
// so on. It answers with tokens at the config's extraction paths (nested
// ones too), with errors in the shape the config reads (HTTP 200 when it
// has a success condition), expiry in the declared unit or not at all when
// the config declares a known lifetime, and values at its metadata paths.
//
// NewDeclared refuses a config that declares what the fake cannot enforce,
// so a catalog entry cannot pass its check unchecked.
//
// Every URL reaches the fake rewritten by Rewrite: the provider's host
// becomes the first path segment under the fake's address.
type Declared struct {
	*httptest.Server
	cfg  latchkey.OAuthConfig
	opts DeclaredOptions
	// endpoint paths, as requests reach the fake
	authorize, token, refresh, revoke, api string
	// expected parameters of each request, parsed from the config's bodies
	exchangeParams, refreshParams, ccParams, revokeParams []template.Param
	tokenHeaders                                          map[string]string
	authParams                                            map[string]string
	credHeaders, credQuery                                map[string][2]string // prefix and suffix around the token

	mu       sync.Mutex
	codes    map[string]*declCode
	access   map[string]time.Time // expiry; zero: never
	refreshs map[string]bool
	failNext string
	problems []string
	counts   map[Endpoint]int
}

type declCode struct {
	redirect, challenge string
	expires             time.Time
}

// DeclaredOptions configure a Declared provider.
type DeclaredOptions struct {
	// Values are the app's settings as the org filled them in (client_id,
	// client_secret, subdomain…): the fake renders the config's templates
	// with them to know the paths and literal parameters to expect.
	Values map[string]string
	// Now is the fake's clock; time.Now when nil.
	Now func() time.Time
	// AccessTTL is the lifetime of access tokens when the config declares
	// none (default_expires_in); an hour when zero.
	AccessTTL time.Duration
}

// marker stands for a value the flow supplies, so that the fake can tell
// which parameter of a rendered body carries it.
func marker(name string) string { return "\u27e6" + name + "\u27e7" }

var simplePathRE = regexp.MustCompile(`^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// successEqRE is a success condition that compares a value: $.status == 0.
var successEqRE = regexp.MustCompile(`^(\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*==\s*(-?[0-9]+|"[^"]*")$`)

// setSuccess makes doc meet the config's success condition, or fail it.
func setSuccess(doc map[string]any, cond string, ok bool) {
	m := successEqRE.FindStringSubmatch(cond)
	if m == nil {
		set(doc, cond, ok)
		return
	}
	var v any
	if err := json.Unmarshal([]byte(m[2]), &v); err != nil {
		return
	}
	if !ok {
		switch x := v.(type) {
		case float64:
			v = x + 1
		case string:
			v = x + "-not"
		}
	}
	set(doc, m[1], v)
}

// Default bodies of the engine (RFC 6749 §4.1.3, §6 and §4.4.2), when a
// config declares none.
var declaredDefaultBodies = [3]string{
	`{"grant_type": "authorization_code", "code": {{auth_code}}, "redirect_uri": {{redirect_uri}}}`,
	`{"grant_type": "refresh_token", "refresh_token": {{refresh_token}}}`,
	`{"grant_type": "client_credentials"}`,
}

// NewDeclared starts a fake provider for cfg, an OAuth config of app; tb's
// cleanup closes it. It returns an error naming every declared quirk the
// fake cannot enforce.
func NewDeclared(tb testing.TB, app *latchkey.App, cfg latchkey.OAuthConfig, opts DeclaredOptions) (*Declared, error) {
	tb.Helper()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = time.Hour
	}
	d := &Declared{cfg: cfg, opts: opts, codes: map[string]*declCode{}, access: map[string]time.Time{},
		refreshs: map[string]bool{}, counts: map[Endpoint]int{}}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	vals := d.markedValues()

	pathOf := func(field, src string) string {
		if src == "" {
			return ""
		}
		t, err := template.Compile(field, src, template.URL)
		if err != nil {
			fail("%s: %v", field, err)
			return ""
		}
		raw, err := t.Render(vals)
		if err != nil {
			fail("%s: %v", field, err)
			return ""
		}
		u, err := url.Parse(raw)
		if err != nil {
			fail("%s: %v", field, err)
			return ""
		}
		return "/" + u.Host + u.EscapedPath()
	}
	if cfg.Grant() == latchkey.GrantAuthorizationCode {
		d.authorize = pathOf("link_url", cfg.LinkURL)
	}
	d.token = pathOf("token_url", cfg.TokenURL)
	d.refresh = pathOf("refresh_token_url", cfg.RefreshURL())
	d.revoke = pathOf("revocation_url", cfg.RevocationURL)
	if api, ok := verifyAPI(app, &cfg); ok {
		d.api = pathOf("apis."+api.Name+".url", strings.TrimSuffix(cfg.APIBaseURL, "/")+api.URL)
	}

	params := func(field, src, def string) []template.Param {
		if strings.TrimSpace(src) == "" {
			src = def
		}
		t, err := template.Compile(field, src, template.JSONBody)
		if err != nil {
			fail("%s: %v", field, err)
			return nil
		}
		ps, err := t.RenderParams(vals)
		if err != nil {
			fail("%s: %v", field, err)
		}
		return ps
	}
	d.exchangeParams = params("request_body", cfg.RequestBody, declaredDefaultBodies[0])
	if cfg.Grant() == latchkey.GrantClientCredentials {
		d.ccParams = params("request_body", cfg.RequestBody, declaredDefaultBodies[2])
	}
	d.refreshParams = params("refresh_token_body", cfg.RefreshTokenBody, declaredDefaultBodies[1])
	if r := cfg.Revocation; r != nil && r.Body != "" {
		d.revokeParams = params("revocation.body", r.Body, "")
	}
	text := func(field, src string, ctx template.Context) string {
		t, err := template.Compile(field, src, ctx)
		if err != nil {
			fail("%s: %v", field, err)
			return ""
		}
		s, err := t.Render(vals)
		if err != nil {
			fail("%s: %v", field, err)
		}
		return s
	}
	d.tokenHeaders = map[string]string{}
	for k, v := range cfg.TokenHeaders {
		d.tokenHeaders[k] = text("token_headers."+k, v, template.Header)
	}
	d.authParams = map[string]string{}
	for k, v := range cfg.AuthParams {
		d.authParams[k] = text("auth_params."+k, v, template.Text)
	}
	split := func(field, src string, ctx template.Context) [2]string {
		s := text(field, src, ctx)
		pre, post, ok := strings.Cut(s, marker("access_token"))
		if !ok {
			fail("%s: does not carry the access token %s, which the fake cannot check", field, cfg.AccessTokenVariableName)
		}
		return [2]string{pre, post}
	}
	d.credHeaders, d.credQuery = map[string][2]string{}, map[string][2]string{}
	if c := cfg.APICredentials; c != nil && (len(c.Headers) > 0 || len(c.Query) > 0) {
		for k, v := range c.Headers {
			d.credHeaders[k] = split("api_credentials.headers."+k, v, template.Header)
		}
		for k, v := range c.Query {
			d.credQuery[k] = split("api_credentials.query."+k, v, template.Text)
		}
	} else {
		d.credHeaders["Authorization"] = [2]string{"Bearer ", ""}
	}

	for field, p := range map[string]string{"extraction_path_access_token": cfg.ExtractionPathAccessToken,
		"extraction_path_refresh_token": cfg.ExtractionPathRefreshToken, "extraction_path_expires_in": cfg.ExtractionPathExpiresIn,
		"extraction_path_expires_at": cfg.ExtractionPathExpiresAt, "extraction_path_scope": cfg.ExtractionPathScope,
		"extraction_path_token_type": cfg.ExtractionPathTokenType, "extraction_path_error": cfg.ExtractionPathError,
		"extraction_path_error_description": cfg.ExtractionPathErrorDescription,
		"extraction_path_auth_code":         cfg.ExtractionPathAuthCode} {
		if p != "" && !simplePathRE.MatchString(p) {
			fail("%s: %q is not a plain $.a.b path, which the fake cannot answer", field, p)
		}
	}
	if r := cfg.RefreshExtraction; r != nil {
		for _, p := range []string{r.AccessToken, r.RefreshToken, r.ExpiresIn, r.ExpiresAt, r.Scope, r.TokenType, r.IDToken} {
			if p != "" && !simplePathRE.MatchString(p) {
				fail("refresh_extraction: %q is not a plain $.a.b path, which the fake cannot answer", p)
			}
		}
	}
	for i, m := range cfg.Metadata {
		if !simplePathRE.MatchString(m.Path) {
			fail("metadata[%d].path: %q is not a plain $.a.b path, which the fake cannot answer", i, m.Path)
		}
		if m.From == latchkey.FromCallback && strings.Count(m.Path, ".") != 1 {
			fail("metadata[%d].path: a callback value must be a top-level query parameter", i)
		}
	}
	if p := cfg.ExtractionPathAuthCode; p != "" && strings.Count(p, ".") != 1 {
		fail("extraction_path_auth_code: %q: the code of a callback is a top-level query parameter", p)
	}
	if sc := cfg.SuccessCondition; sc != "" && !simplePathRE.MatchString(sc) && !successEqRE.MatchString(sc) {
		fail("success_condition: %q is neither a plain $.a.b path nor $.a.b == a number or string, which the fake cannot answer", sc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	tb.Cleanup(d.Close)
	return d, nil
}

// markedValues are the org's values with the flow's built-ins (and the
// token variables) replaced by markers.
func (d *Declared) markedValues() map[string]string {
	vals := map[string]string{}
	for k, v := range d.opts.Values {
		vals[k] = v
	}
	for _, b := range []string{"auth_code", "code_verifier", "code_challenge", "state", "redirect_uri", "refresh_token", "scope"} {
		vals[b] = marker(b)
	}
	if d.cfg.AccessTokenVariableName != "" {
		vals[d.cfg.AccessTokenVariableName] = marker("access_token")
	}
	if d.cfg.RefreshTokenVariableName != "" {
		vals[d.cfg.RefreshTokenVariableName] = marker("refresh_token")
	}
	for _, m := range d.cfg.Metadata {
		vals[m.Setting] = "meta-" + m.Setting
	}
	return vals
}

// verifyAPI returns the API an OAuth config names as its verify_api.
func verifyAPI(app *latchkey.App, cfg *latchkey.OAuthConfig) (latchkey.API, bool) {
	for _, a := range app.APIs {
		if a.Name == cfg.VerifyAPI && strings.HasPrefix(a.URL, "/") {
			return a, true
		}
	}
	return latchkey.API{}, false
}

// Rewrite turns one of the config's URL templates into one that reaches the
// fake: https://{{subdomain}}.example.com/oauth/token becomes
// http://127.0.0.1:port/{{subdomain}}.example.com/oauth/token.
func (d *Declared) Rewrite(src string) string {
	if src == "" {
		return ""
	}
	rest, ok := strings.CutPrefix(src, "https://")
	if !ok {
		rest, _ = strings.CutPrefix(src, "http://")
	}
	return d.URL + "/" + rest
}

// Problems returns what the fake refused so far: each request that broke a
// rule the config declares, in words.
func (d *Declared) Problems() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.problems...)
}

// Count returns how many requests reached endpoint e and were answered
// successfully.
func (d *Declared) Count(e Endpoint) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts[e]
}

// ValidAccessToken reports whether token is a live access token.
func (d *Declared) ValidAccessToken(token string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	exp, ok := d.access[token]
	return ok && !expired(exp, d.opts.Now())
}

// ValidRefreshToken reports whether token is a live refresh token.
func (d *Declared) ValidRefreshToken(token string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refreshs[token]
}

// FailNext makes the next token or refresh request fail with the provider
// error code, in the shape the config reads: HTTP 200 with the success
// condition false when the config has one, HTTP 400 otherwise.
func (d *Declared) FailNext(code string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext = code
}

// problem records a refused request and answers it with invalid_request.
func (d *Declared) problem(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.problems = append(d.problems, msg)
	d.mu.Unlock()
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": msg})
}

func (d *Declared) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case p == d.authorize && r.Method == http.MethodGet:
		d.serveAuthorize(w, r)
	case p == d.revoke && d.revoke != "" && d.isRevocation(r):
		d.serveRevoke(w, r)
	case p == d.token || p == d.refresh:
		d.serveToken(w, r)
	case p == d.api && d.api != "":
		d.serveAPI(w, r)
	default:
		d.problem(w, "%s %s: no endpoint of the config is there (authorize %s, token %s, refresh %s, revocation %s, API %s)",
			r.Method, p, d.authorize, d.token, d.refresh, d.revoke, d.api)
	}
}

func (d *Declared) isRevocation(r *http.Request) bool {
	if d.revoke != d.token && d.revoke != d.refresh {
		return true
	}
	return r.Method == d.revocationMethod()
}

func (d *Declared) revocationMethod() string {
	if r := d.cfg.Revocation; r != nil && r.Method != "" {
		return strings.ToUpper(r.Method)
	}
	return http.MethodPost
}

// serveAuthorize checks the link (RFC 6749 §4.1.1, RFC 7636 §4.3) and
// redirects with a code at once.
func (d *Declared) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := func(k, v string) bool {
		if got := q.Get(k); got != v {
			d.problem(w, "authorize: %s: got %q, want %q", k, got, v)
			return false
		}
		return true
	}
	if !want("client_id", d.clientID()) || !want("response_type", "code") {
		return
	}
	redirect := q.Get("redirect_uri")
	target, err := url.Parse(redirect)
	if err != nil || !target.IsAbs() {
		d.problem(w, "authorize: redirect_uri: got %q, want an absolute URL", redirect)
		return
	}
	if q.Get("state") == "" {
		d.problem(w, "authorize: no state")
		return
	}
	challenge := q.Get("code_challenge")
	switch {
	case d.cfg.PKCEEnabled() && (challenge == "" || q.Get("code_challenge_method") != "S256"):
		d.problem(w, "authorize: the config uses PKCE, but the link has no S256 code_challenge")
		return
	case !d.cfg.PKCEEnabled() && challenge != "":
		d.problem(w, "authorize: the config turns PKCE off, but the link has a code_challenge")
		return
	}
	if len(d.cfg.Scopes) > 0 {
		sep := d.cfg.ScopeSeparator
		if sep == "" || sep == "+" {
			sep = " " // '+' is a space once the query is decoded
		}
		if !want("scope", strings.Join(d.cfg.Scopes, sep)) {
			return
		}
	}
	for k, v := range d.authParams {
		if !want(k, v) {
			return
		}
	}
	code := randomHex(16)
	codeParam := strings.TrimPrefix(orPath(d.cfg.ExtractionPathAuthCode, "$.code"), "$.")
	d.mu.Lock()
	d.codes[code] = &declCode{redirect: redirect, challenge: challenge, expires: d.opts.Now().Add(10 * time.Minute)}
	d.counts[EndpointAuthorize]++
	d.mu.Unlock()
	tq := target.Query()
	tq.Set(codeParam, code)
	tq.Set("state", q.Get("state"))
	for _, m := range d.cfg.Metadata {
		if m.From == latchkey.FromCallback {
			tq.Set(strings.TrimPrefix(m.Path, "$."), "meta-"+m.Setting)
		}
	}
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func (d *Declared) clientID() string {
	if d.cfg.ClientID != "" {
		t, err := template.Compile("client_id", d.cfg.ClientID, template.Text)
		if err == nil {
			if s, err := t.Render(d.opts.Values); err == nil {
				return s
			}
		}
	}
	return d.opts.Values["client_id"]
}

func (d *Declared) clientSecret() string {
	if d.cfg.ClientSecret != "" {
		t, err := template.Compile("client_secret", d.cfg.ClientSecret, template.Text)
		if err == nil {
			if s, err := t.Render(d.opts.Values); err == nil {
				return s
			}
		}
	}
	return d.opts.Values["client_secret"]
}

// readParams reads a request's parameters where the encoding puts them,
// refusing a request that puts them elsewhere.
func (d *Declared) readParams(w http.ResponseWriter, r *http.Request, rec Request, encoding, what string) (map[string]string, bool) {
	out := map[string]string{}
	switch encoding {
	case latchkey.EncodingJSON:
		if rec.JSON == nil {
			d.problem(w, "%s: the config says json, got Content-Type %q", what, r.Header.Get("Content-Type"))
			return nil, false
		}
		for k, v := range rec.JSON {
			switch v := v.(type) {
			case string:
				out[k] = v
			default:
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		}
	case latchkey.EncodingQuery:
		if len(rec.Body) > 0 {
			d.problem(w, "%s: the config says query, got a body of %d bytes", what, len(rec.Body))
			return nil, false
		}
		for k := range rec.Query {
			out[k] = rec.Query.Get(k)
		}
	default:
		if rec.Form == nil {
			d.problem(w, "%s: the config says form, got Content-Type %q", what, r.Header.Get("Content-Type"))
			return nil, false
		}
		for k := range rec.Form {
			out[k] = rec.Form.Get(k)
		}
		if rec.Query.Get("grant_type") != "" {
			d.problem(w, "%s: the config says form, got parameters in the query string", what)
			return nil, false
		}
	}
	return out, true
}

// checkClient enforces the client authentication method (RFC 6749 §2.3.1).
func (d *Declared) checkClient(w http.ResponseWriter, r *http.Request, params map[string]string, auth, what string) bool {
	id, secret := d.clientID(), d.clientSecret()
	bid, bsecret, basic := r.BasicAuth()
	if basic {
		bid, _ = url.QueryUnescape(bid)
		bsecret, _ = url.QueryUnescape(bsecret)
	}
	switch auth {
	case latchkey.ClientAuthBasic:
		if !basic || bid != id || subtle.ConstantTimeCompare([]byte(bsecret), []byte(secret)) != 1 {
			d.problem(w, "%s: the config says basic, got no HTTP Basic header with the client's credentials", what)
			return false
		}
		if _, ok := params["client_secret"]; ok {
			d.problem(w, "%s: the config says basic, got client_secret in the parameters too", what)
			return false
		}
	case latchkey.ClientAuthNone:
		if basic || params["client_secret"] != "" {
			d.problem(w, "%s: the config says none (a public client), got a client secret", what)
			return false
		}
		if params["client_id"] != id {
			d.problem(w, "%s: client_id: got %q, want %q", what, params["client_id"], id)
			return false
		}
	default:
		if basic {
			d.problem(w, "%s: the config says body, got an HTTP Basic header", what)
			return false
		}
		if params["client_id"] != id || subtle.ConstantTimeCompare([]byte(params["client_secret"]), []byte(secret)) != 1 {
			d.problem(w, "%s: the config says body, got no client_id and client_secret in the parameters", what)
			return false
		}
	}
	return true
}

// matchParams checks a request's parameters against the expected ones:
// literal values equal, and each marked value present. It returns the
// values of the markers.
func matchParams(want []template.Param, got map[string]string) (map[string]string, error) {
	found := map[string]string{}
	for _, p := range want {
		v, ok := got[p.Key]
		if name, marked := strings.CutPrefix(p.Value, "\u27e6"); marked {
			name = strings.TrimSuffix(name, "\u27e7")
			if !ok && name != "scope" {
				return nil, fmt.Errorf("%s: missing, want the %s", p.Key, name)
			}
			found[name] = v
			continue
		}
		if strings.Contains(p.Value, "\u27e6") {
			return nil, fmt.Errorf("%s: a value that mixes %q with a flow value, which the fake cannot check", p.Key, p.Value)
		}
		if v != p.Value {
			return nil, fmt.Errorf("%s: got %q, want %q", p.Key, v, p.Value)
		}
	}
	return found, nil
}

func literal(ps []template.Param, key string) string {
	for _, p := range ps {
		if p.Key == key && !strings.Contains(p.Value, "\u27e6") {
			return p.Value
		}
	}
	return ""
}

// serveToken serves the code exchange, the refresh and client credentials.
func (d *Declared) serveToken(w http.ResponseWriter, r *http.Request) {
	rec := (&Provider{opts: Options{Now: d.opts.Now}}).capture(r, EndpointToken)
	if r.Method != http.MethodPost {
		d.problem(w, "token: got %s, want POST", r.Method)
		return
	}
	params, ok := d.readParams(w, r, rec, d.cfg.Encoding(), "token")
	if !ok || !d.checkClient(w, r, params, d.cfg.Auth(), "token") {
		return
	}
	for k, v := range d.tokenHeaders {
		if got := r.Header.Get(k); got != v {
			d.problem(w, "token: header %s: got %q, want %q", k, got, v)
			return
		}
	}
	kind, want := "", []template.Param(nil)
	p := r.URL.EscapedPath()
	for _, c := range []struct {
		kind string
		ps   []template.Param
		path string
	}{{"exchange", d.exchangeParams, d.token}, {"client_credentials", d.ccParams, d.token}, {"refresh", d.refreshParams, d.refresh}} {
		if c.ps == nil || c.path != p {
			continue
		}
		if gt := literal(c.ps, "grant_type"); gt != "" && params["grant_type"] != gt {
			continue
		}
		if c.kind == "exchange" && d.cfg.Grant() != latchkey.GrantAuthorizationCode {
			continue
		}
		kind, want = c.kind, c.ps
		break
	}
	if kind == "" {
		d.problem(w, "token: grant_type %q matches none of the config's requests", params["grant_type"])
		return
	}
	found, err := matchParams(want, params)
	if err != nil {
		d.problem(w, "%s: %v", kind, err)
		return
	}
	if s, ok := found["scope"]; ok {
		if ws := d.joinedScopes(); s != ws {
			d.problem(w, "%s: scope: got %q, want %q", kind, s, ws)
			return
		}
	}
	d.mu.Lock()
	failCode := d.failNext
	d.failNext = ""
	d.mu.Unlock()
	if failCode != "" {
		d.writeError(w, failCode)
		return
	}
	now := d.opts.Now()
	switch kind {
	case "exchange":
		code := found["auth_code"]
		d.mu.Lock()
		c := d.codes[code]
		delete(d.codes, code)
		d.mu.Unlock()
		if c == nil || expired(c.expires, now) {
			d.writeError(w, "invalid_grant")
			return
		}
		if ru, ok := found["redirect_uri"]; ok && ru != c.redirect {
			d.problem(w, "exchange: redirect_uri: got %q, want the link's %q", ru, c.redirect)
			return
		}
		if c.challenge != "" && !verifyPKCE(c.challenge, "S256", params["code_verifier"]) {
			d.problem(w, "exchange: code_verifier does not match the link's code_challenge (RFC 7636 §4.6)")
			return
		}
		d.writeTokens(w, false, true)
	case "refresh":
		rt := found["refresh_token"]
		d.mu.Lock()
		live := d.refreshs[rt]
		delete(d.refreshs, rt)
		d.mu.Unlock()
		if !live {
			d.writeError(w, "invalid_grant")
			return
		}
		d.writeTokens(w, true, true)
	default:
		d.writeTokens(w, false, false)
	}
}

func (d *Declared) joinedScopes() string {
	sep := d.cfg.ScopeSeparator
	if sep == "" {
		sep = " "
	}
	return strings.Join(d.cfg.Scopes, sep)
}

// set puts v at a plain $.a.b path of doc.
func set(doc map[string]any, path string, v any) {
	parts := strings.Split(strings.TrimPrefix(path, "$."), ".")
	m := doc
	for _, k := range parts[:len(parts)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func orPath(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// writeTokens answers a token request (RFC 6749 §5.1) at the config's
// extraction paths; a refresh answer at its refresh_extraction paths.
func (d *Declared) writeTokens(w http.ResponseWriter, refresh, withRefresh bool) {
	c := d.cfg
	paths := latchkey.ExtractionPaths{AccessToken: orPath(c.ExtractionPathAccessToken, "$.access_token"),
		RefreshToken: orPath(c.ExtractionPathRefreshToken, "$.refresh_token"), ExpiresIn: orPath(c.ExtractionPathExpiresIn, "$.expires_in"),
		ExpiresAt: c.ExtractionPathExpiresAt, Scope: orPath(c.ExtractionPathScope, "$.scope"), TokenType: orPath(c.ExtractionPathTokenType, "$.token_type")}
	if r := c.RefreshExtraction; refresh && r != nil {
		for dst, src := range map[*string]string{&paths.AccessToken: r.AccessToken, &paths.RefreshToken: r.RefreshToken,
			&paths.ExpiresIn: r.ExpiresIn, &paths.ExpiresAt: r.ExpiresAt, &paths.Scope: r.Scope, &paths.TokenType: r.TokenType} {
			if src != "" {
				*dst = src
			}
		}
	}
	now := d.opts.Now()
	ttl := d.opts.AccessTTL
	if c.DefaultExpiresIn > 0 {
		ttl = time.Duration(c.DefaultExpiresIn)
	}
	doc := map[string]any{}
	if c.SuccessCondition != "" {
		setSuccess(doc, c.SuccessCondition, true)
	}
	at := "at-" + randomHex(16)
	set(doc, paths.AccessToken, at)
	set(doc, paths.TokenType, "Bearer")
	if len(c.Scopes) > 0 {
		set(doc, paths.Scope, strings.Join(c.Scopes, " "))
	}
	switch {
	case c.DefaultExpiresIn > 0:
		// A known lifetime: the answer gives none.
	case c.RefreshTokenVariableName == "":
		// A config without refresh tokens: tokens that do not expire.
		ttl = 0
	case c.ExtractionPathExpiresAt != "" && c.ExtractionPathExpiresIn == "":
		set(doc, paths.ExpiresAt, now.Add(ttl).Unix())
	default:
		unit := time.Second
		if u, ok := latchkey.ExpiresInUnits[c.ExpiresInUnit]; ok {
			unit = u
		}
		set(doc, paths.ExpiresIn, int64(ttl/unit))
	}
	d.mu.Lock()
	d.access[at] = time.Time{}
	if ttl > 0 {
		d.access[at] = now.Add(ttl)
	}
	if withRefresh && c.RefreshTokenVariableName != "" {
		rt := "rt-" + randomHex(16)
		d.refreshs[rt] = true
		set(doc, paths.RefreshToken, rt)
	}
	if refresh {
		d.counts[EndpointRefresh]++
	} else {
		d.counts[EndpointToken]++
	}
	d.mu.Unlock()
	if !refresh {
		for _, m := range c.Metadata {
			if m.From == latchkey.FromToken {
				set(doc, m.Path, "meta-"+m.Setting)
			}
		}
	}
	writeJSON(w, http.StatusOK, doc)
}

// writeError answers with the provider error code where the config reads
// it (RFC 6749 §5.2).
func (d *Declared) writeError(w http.ResponseWriter, code string) {
	doc := map[string]any{}
	set(doc, orPath(d.cfg.ExtractionPathError, "$.error"), code)
	set(doc, orPath(d.cfg.ExtractionPathErrorDescription, "$.error_description"), "refused by the fake provider")
	status := http.StatusBadRequest
	if d.cfg.SuccessCondition != "" {
		setSuccess(doc, d.cfg.SuccessCondition, false)
		status = http.StatusOK
	}
	writeJSON(w, status, doc)
}

// serveRevoke revokes a token with the declared method, encoding, client
// authentication and parameters (RFC 7009 §2.1 unless declared otherwise).
func (d *Declared) serveRevoke(w http.ResponseWriter, r *http.Request) {
	rec := (&Provider{opts: Options{Now: d.opts.Now}}).capture(r, EndpointRevoke)
	rev := latchkey.RevocationRequest{}
	if d.cfg.Revocation != nil {
		rev = *d.cfg.Revocation
	}
	if m := d.revocationMethod(); r.Method != m {
		d.problem(w, "revocation: got %s, want %s", r.Method, m)
		return
	}
	enc, auth := d.cfg.Encoding(), d.cfg.Auth()
	if rev.Encoding != "" {
		enc = rev.Encoding
	}
	if rev.ClientAuth != "" {
		auth = rev.ClientAuth
	}
	params, ok := d.readParams(w, r, rec, enc, "revocation")
	if !ok || !d.checkClient(w, r, params, auth, "revocation") {
		return
	}
	var tokens []string
	if d.revokeParams != nil {
		found, err := matchParams(d.revokeParams, params)
		if err != nil {
			d.problem(w, "revocation: %v", err)
			return
		}
		for _, k := range []string{"access_token", "refresh_token"} {
			if v, ok := found[k]; ok {
				tokens = append(tokens, v)
			}
		}
	} else {
		if params["token"] == "" || !slices.Contains([]string{"access_token", "refresh_token"}, params["token_type_hint"]) {
			d.problem(w, "revocation: want token and token_type_hint (RFC 7009 §2.1), got %v", sortedParamKeys(params))
			return
		}
		tokens = append(tokens, params["token"])
	}
	d.mu.Lock()
	n := 0
	for _, t := range tokens {
		if _, ok := d.access[t]; ok {
			n++
		}
		if d.refreshs[t] {
			n++
		}
		delete(d.access, t)
		delete(d.refreshs, t)
	}
	if n > 0 {
		// RFC 7009 §2.1: revoking a refresh token revokes the grant.
		if params["token_type_hint"] == "refresh_token" || len(d.revokeParams) > 0 {
			d.access = map[string]time.Time{}
		}
		d.counts[EndpointRevoke]++
	}
	d.mu.Unlock()
	if n == 0 {
		d.problem(w, "revocation: no live token in the request")
		return
	}
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// serveAPI is the verification API: 200 for a live access token carried as
// the config's api_credentials declare (Authorization: Bearer by default).
func (d *Declared) serveAPI(w http.ResponseWriter, r *http.Request) {
	var token string
	for k, ps := range d.credHeaders {
		v := r.Header.Get(k)
		if !strings.HasPrefix(v, ps[0]) || !strings.HasSuffix(v, ps[1]) {
			d.problem(w, "API: header %s does not carry the token as declared", k)
			return
		}
		token = strings.TrimSuffix(strings.TrimPrefix(v, ps[0]), ps[1])
	}
	for k, ps := range d.credQuery {
		v := r.URL.Query().Get(k)
		if !strings.HasPrefix(v, ps[0]) || !strings.HasSuffix(v, ps[1]) {
			d.problem(w, "API: query parameter %s does not carry the token as declared", k)
			return
		}
		token = strings.TrimSuffix(strings.TrimPrefix(v, ps[0]), ps[1])
	}
	if !d.ValidAccessToken(token) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
		return
	}
	d.mu.Lock()
	d.counts[EndpointAPI]++
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"id": DefaultUser, "name": "Test User"})
}

func sortedParamKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
