package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/template"
	"github.com/latchkey/latchkey/pkg/trace"
)

// Defaults of an OAuth config's api_calls.
var (
	DefaultTokenExpiredStatuses = []int{http.StatusUnauthorized}
	DefaultRetryStatuses        = []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout}
)

// DefaultMaxRetries is how many times a call is retried when the config
// does not say.
const DefaultMaxRetries = 2

// CallPolicy is how a provider's answers to API calls are read, compiled
// from an OAuth config's api_calls.
type CallPolicy struct {
	// TokenExpiredStatuses mean the access token is refused.
	TokenExpiredStatuses []int
	// TokenExpired, when not nil, says whether a JSON answer's body also
	// means it (a condition over bodies of at most 1 MiB).
	TokenExpired func(ctx context.Context, contentType string, body []byte) bool
	// RetryStatuses are retried, at most MaxRetries times.
	RetryStatuses []int
	MaxRetries    int
	// ResetHeader, when set, says when a rate limit resets, in
	// ResetFormat (latchkey.ResetSeconds or latchkey.ResetEpoch).
	ResetHeader string
	ResetFormat string
}

// apiConfig is the compiled API side of an OAuth config.
type apiConfig struct {
	base    *template.Template            // api_base_url; nil when unset
	fixed   *url.URL                      // base parsed once when it uses no value; never modified
	headers map[string]*template.Template // api_credentials.headers
	query   map[string]*template.Template // api_credentials.query
	policy  CallPolicy
}

// compiledAPI is one of the app's declared APIs.
type compiledAPI struct {
	api     *latchkey.API
	config  string // the OAuth config whose connection it calls with
	method  string
	url     *template.Template // joined to the config's base URL when the API's URL is a path
	joined  bool
	headers map[string]*template.Template
	query   map[string]*template.Template
	body    *template.Template
}

func compileAPIConfig(app *latchkey.App, cfg *latchkey.OAuthConfig, f string, fe *latchkey.FieldErrors) *apiConfig {
	ac := &apiConfig{headers: map[string]*template.Template{}, query: map[string]*template.Template{}}
	known := knownNames(app, cfg)
	if cfg.APIBaseURL != "" {
		ac.base = compileTemplate(fe, known, f+".api_base_url", cfg.APIBaseURL, template.URL)
		if ac.base != nil && len(ac.base.Vars()) == 0 {
			ac.fixed, _ = url.Parse(cfg.APIBaseURL)
		}
		creds := cfg.APICredentials
		if creds == nil || (len(creds.Headers) == 0 && len(creds.Query) == 0) {
			creds = &latchkey.APICredentials{Headers: map[string]string{"Authorization": "Bearer {{" + cfg.AccessTokenVariableName + "}}"}}
		}
		for _, h := range sortedKeys(creds.Headers) {
			ac.headers[http.CanonicalHeaderKey(h)] = compileTemplate(fe, known, f+".api_credentials.headers."+h, creds.Headers[h], template.Header)
		}
		for _, q := range sortedKeys(creds.Query) {
			ac.query[q] = compileTemplate(fe, known, f+".api_credentials.query."+q, creds.Query[q], template.Text)
		}
	}
	p := latchkey.APICallPolicy{}
	if cfg.APICalls != nil {
		p = *cfg.APICalls
	}
	ac.policy = CallPolicy{TokenExpiredStatuses: p.TokenExpiredStatuses, RetryStatuses: p.RetryStatuses, MaxRetries: p.MaxRetries,
		ResetHeader: p.RateLimitResetHeader, ResetFormat: p.RateLimitResetFormat}
	if len(ac.policy.TokenExpiredStatuses) == 0 {
		ac.policy.TokenExpiredStatuses = DefaultTokenExpiredStatuses
	}
	if len(ac.policy.RetryStatuses) == 0 {
		ac.policy.RetryStatuses = DefaultRetryStatuses
	}
	switch {
	case ac.policy.MaxRetries == 0:
		ac.policy.MaxRetries = DefaultMaxRetries
	case ac.policy.MaxRetries < 0:
		ac.policy.MaxRetries = 0
	}
	if ac.policy.ResetHeader != "" && ac.policy.ResetFormat == "" {
		ac.policy.ResetFormat = latchkey.ResetEpoch
	}
	if p.TokenExpiredCondition != "" {
		cond, err := extract.Compile(p.TokenExpiredCondition)
		if err != nil {
			fe.Add(f+".api_calls.token_expired_condition", "is not a valid JSONPath: %v", err)
		} else {
			ac.policy.TokenExpired = func(ctx context.Context, contentType string, body []byte) bool {
				doc, err := extract.ParseResponse(contentType, body)
				return err == nil && cond.True(ctx, doc)
			}
		}
	}
	return ac
}

// compileAPIs compiles the app's declared APIs. Their templates may use the
// app's settings, the values of the API's config, and their own parameters
// as {{param "name"}}; anything else is an error naming the field.
func (c *Compiled) compileAPIs(fe *latchkey.FieldErrors) {
	c.apis = map[string]*compiledAPI{}
	for i := range c.App.APIs {
		api := &c.App.APIs[i]
		f := fmt.Sprintf("apis[%d]", i)
		ca := &compiledAPI{api: api, config: c.App.APIConfig(api), method: strings.ToUpper(api.Method),
			headers: map[string]*template.Template{}, query: map[string]*template.Template{}}
		if ca.method == "" {
			ca.method = http.MethodGet
		}
		cfg, _ := c.App.OAuthConfig(ca.config)
		known := knownNames(&c.App, cfg)
		params := map[string]bool{}
		for _, p := range api.Params {
			params[p.Name] = true
		}
		check := func(field string, t *template.Template) *template.Template {
			if t == nil {
				return nil
			}
			var unknown, unparam []string
			for _, v := range t.Vars() {
				if name, ok := strings.CutPrefix(v, template.ParamPrefix); ok {
					if !params[name] {
						unparam = append(unparam, fmt.Sprintf("{{param %q}}", name))
					}
				} else if !known[v] {
					unknown = append(unknown, "{{"+v+"}}")
				}
			}
			if len(unknown) > 0 {
				fe.Add(field, "refers to %s, which is no setting of the app and no value of its config", strings.Join(unknown, ", "))
			}
			if len(unparam) > 0 {
				fe.Add(field, "refers to %s, which is no parameter of the API: declare it under params", strings.Join(unparam, ", "))
			}
			return t
		}
		src := api.URL
		if strings.HasPrefix(api.URL, "/") && cfg != nil && cfg.APIBaseURL != "" {
			// The path joins the base URL as one template, so the base's host
			// rules hold and values in the path are path-escaped.
			src = strings.TrimSuffix(cfg.APIBaseURL, "/") + api.URL
			ca.joined = true
		}
		ca.url = check(f+".url", compileTemplate(fe, nil, f+".url", src, template.URL))
		for _, h := range sortedKeys(api.Headers) {
			ca.headers[http.CanonicalHeaderKey(h)] = check(f+".headers."+h, compileTemplate(fe, nil, f+".headers."+h, api.Headers[h], template.Header))
		}
		for _, q := range sortedKeys(api.Query) {
			ca.query[q] = check(f+".query."+q, compileTemplate(fe, nil, f+".query."+q, api.Query[q], template.Text))
		}
		if api.Body != "" {
			ctx := template.Text
			if strings.HasPrefix(strings.TrimSpace(api.Body), "{") {
				ctx = template.JSONBody
			}
			ca.body = check(f+".body", compileTemplate(fe, nil, f+".body", api.Body, ctx))
		}
		c.apis[api.Name] = ca
	}
}

// api returns the declared API called name.
func (c *Compiled) api(name string) (*compiledAPI, error) {
	ca, ok := c.apis[name]
	if !ok {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "app %q has no API %q", c.App.Name, name)
	}
	return ca, nil
}

// Upstream is one call's way to a provider's API on a connection's behalf:
// the connection's token, the values its templates see, and for a declared
// API the compiled request. Authorize puts the credentials on a request;
// Renew replaces a token the provider refused. It is made per call by
// Engine.Proxy or Engine.PrepareAPI, and safe for use by one call's retries.
type Upstream struct {
	e   *Engine
	c   *Compiled
	cc  *compiledConfig
	api *compiledAPI // nil for a proxied call
	key latchkey.ConnectionKey

	installed map[string]string
	params    map[string]string

	mu   sync.Mutex
	conn latchkey.Connection
	vals map[string]string
	base *url.URL
}

// Key is the connection the call uses.
func (u *Upstream) Key() latchkey.ConnectionKey { return u.key }

// Policy is how the provider's answers are read.
func (u *Upstream) Policy() CallPolicy { return u.cc.api.policy }

// Base is the rendered API base URL of a proxied call.
func (u *Upstream) Base() *url.URL { return u.base }

// APIName is the declared API's name, empty for a proxied call.
func (u *Upstream) APIName() string {
	if u.api == nil {
		return ""
	}
	return u.api.api.Name
}

// Method is the declared API's method.
func (u *Upstream) Method() string {
	if u.api == nil {
		return ""
	}
	return u.api.method
}

// Proxy returns the upstream of a proxied call on a connection: the
// config's api_base_url rendered for the org and user, with the
// connection's token, refreshed first when it is due (Token). A connection
// that needs the user again is ENEEDSREAUTH, without calling the provider.
func (e *Engine) Proxy(ctx context.Context, key latchkey.ConnectionKey) (*Upstream, error) {
	u, err := e.upstream(ctx, key, nil, nil)
	if err != nil {
		return nil, err
	}
	if u.cc.api.base == nil {
		return nil, &latchkey.Error{Code: latchkey.EINVALID, Message: fmt.Sprintf("OAuth config %q declares no api_base_url to proxy to", key.Config),
			Fields: []latchkey.FieldError{{Field: "api_base_url", Message: "is not set"}}}
	}
	if u.cc.api.fixed != nil {
		u.base = u.cc.api.fixed
		return u, nil
	}
	raw, err := u.cc.api.base.Render(u.vals)
	if err != nil {
		return nil, renderError("api_base_url", err)
	}
	if u.base, err = url.Parse(raw); err != nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "the rendered api_base_url is not a URL")
	}
	return u, nil
}

// PrepareAPI returns the upstream of a call of the app's declared API name
// with the caller's parameters. An unknown parameter, or a required one
// missing, is EINVALID naming it. For a client-credentials config, user is
// empty.
func (e *Engine) PrepareAPI(ctx context.Context, app, org, user, name string, params map[string]string) (*Upstream, error) {
	c, err := e.App(ctx, app)
	if err != nil {
		return nil, err
	}
	ca, err := c.api(name)
	if err != nil {
		return nil, err
	}
	if ca.config == "" {
		return nil, &latchkey.Error{Code: latchkey.EINVALID, Message: fmt.Sprintf("API %q names no oauth_config, and app %q has several: say which connection it calls with", name, app),
			Fields: []latchkey.FieldError{{Field: "oauth_config", Message: "is required when the app has several OAuth configs"}}}
	}
	var fe latchkey.FieldErrors
	declared := map[string]bool{}
	for _, p := range ca.api.Params {
		declared[p.Name] = true
		if p.Required && params[p.Name] == "" {
			fe.Add(p.Name, "is required: %s", p.Description)
		}
	}
	for _, k := range sortedKeys(params) {
		if !declared[k] {
			fe.Add(k, "is no parameter of API %q", name)
		}
	}
	if err := fe.Err("the API's parameters are not right"); err != nil {
		return nil, err
	}
	return e.upstream(ctx, latchkey.ConnectionKey{App: app, Org: org, User: user, Config: ca.config}, ca, params)
}

func (e *Engine) upstream(ctx context.Context, key latchkey.ConnectionKey, ca *compiledAPI, params map[string]string) (*Upstream, error) {
	c, err := e.App(ctx, key.App)
	if err != nil {
		return nil, err
	}
	cc, err := c.config(key.Config)
	if err != nil {
		return nil, err
	}
	if cc.cfg.Grant() == latchkey.GrantClientCredentials {
		key.User = ""
	} else if key.User == "" {
		return nil, latchkey.Errorf(latchkey.EBADREQUEST, "OAuth config %q connects users: call it on a user's route", key.Config)
	}
	rec := trace.From(ctx)
	rec.SetKey(key)
	conn, err := e.Token(ctx, key)
	if err != nil {
		return nil, err
	}
	installed, err := e.installedValues(ctx, key.App, key.Org)
	if err != nil {
		return nil, err
	}
	u := &Upstream{e: e, c: c, cc: cc, api: ca, key: key, installed: installed, params: params}
	u.setConn(conn)
	cc.maskIn(rec, u.vals)
	return u, nil
}

// setConn takes a connection's values; the caller holds u.mu or owns u.
func (u *Upstream) setConn(conn latchkey.Connection) {
	u.conn = conn
	u.vals = u.e.valuesFrom(u.c, u.cc, u.installed, conn.Values)
	for k, v := range u.params {
		u.vals[template.ParamPrefix+k] = v
	}
}

// installedValues reads an org's installation values, kept for
// AppCacheTTL like compiled apps, so that a call costs no database read
// beyond the connection (which the store caches).
func (e *Engine) installedValues(ctx context.Context, app, org string) (map[string]string, error) {
	k := cacheKey{env: latchkey.EnvironmentFrom(ctx), app: app, org: org}
	now := time.Now()
	e.mu.Lock()
	ci, ok := e.installs[k]
	e.mu.Unlock()
	if ok && now.Sub(ci.loaded) < e.cfg.AppCacheTTL {
		return ci.values, nil
	}
	inst, err := e.cfg.Store.GetInstallation(ctx, app, org)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	}
	e.mu.Lock()
	if len(e.installs) > 10000 {
		clear(e.installs)
	}
	e.installs[k] = cachedInstall{values: inst.Values, loaded: now}
	e.mu.Unlock()
	return inst.Values, nil
}

type cachedInstall struct {
	values map[string]string
	loaded time.Time
}

// Token is the access token the call uses now.
func (u *Upstream) Token() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conn.Values[u.cc.cfg.AccessTokenVariableName]
}

// Authorize puts the call on req: for a proxied call the config's
// credentials (headers, which replace the caller's of the same name, and
// query parameters); for a declared API its rendered URL, query, headers and
// body, and the config's credentials when its URL is joined to the base URL.
func (u *Upstream) Authorize(req *http.Request) error {
	u.mu.Lock()
	vals := u.vals
	u.mu.Unlock()
	if u.api != nil {
		if err := u.renderAPI(req, vals); err != nil {
			return err
		}
		if !u.api.joined {
			return nil
		}
	}
	ac := u.cc.api
	for h, t := range ac.headers {
		v, err := t.Render(vals)
		if err != nil {
			return renderError("api_credentials.headers."+h, err)
		}
		req.Header[h] = []string{v}
	}
	if len(ac.query) > 0 {
		q := req.URL.Query()
		for k, t := range ac.query {
			v, err := t.Render(vals)
			if err != nil {
				return renderError("api_credentials.query."+k, err)
			}
			q.Set(k, v)
		}
		req.URL.RawQuery = q.Encode()
	}
	return nil
}

func (u *Upstream) renderAPI(req *http.Request, vals map[string]string) error {
	ca := u.api
	raw, err := ca.url.Render(vals)
	if err != nil {
		return apiRenderError("url", err)
	}
	target, err := url.Parse(raw)
	if err != nil {
		return latchkey.Errorf(latchkey.EINVALID, "the rendered URL of API %q is not a URL", ca.api.Name)
	}
	if DotSegments(target.EscapedPath()) {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: "a parameter may not make the API's path climb with '.' or '..' segments",
			Fields: []latchkey.FieldError{{Field: "params", Message: "a value is a '.' or '..' path segment"}}}
	}
	if len(ca.query) > 0 {
		q := target.Query()
		for _, k := range sortedKeys(ca.query) {
			v, err := ca.query[k].Render(vals)
			if err != nil {
				return apiRenderError("query."+k, err)
			}
			q.Set(k, v)
		}
		target.RawQuery = q.Encode()
	}
	req.URL = target
	req.Host = ""
	for h, t := range ca.headers {
		v, err := t.Render(vals)
		if err != nil {
			return apiRenderError("headers."+h, err)
		}
		req.Header[h] = []string{v}
	}
	if ca.body != nil {
		body, err := ca.body.Render(vals)
		if err != nil {
			return apiRenderError("body", err)
		}
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		if req.Header.Get("Content-Type") == "" && ca.body.Context() == template.JSONBody {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	return nil
}

// apiRenderError is renderError for a declared API's field, naming a
// missing parameter as such.
func apiRenderError(field string, err error) error {
	var mv *template.MissingValueError
	if errors.As(err, &mv) {
		if name, ok := strings.CutPrefix(mv.Name, template.ParamPrefix); ok {
			return &latchkey.Error{Code: latchkey.EINVALID, Err: err, Message: "the parameter " + name + " has no value",
				Fields: []latchkey.FieldError{{Field: name, Message: "is needed by the API's " + field}}}
		}
	}
	return renderError(field, err)
}

// Renew replaces the access token the provider has just refused
// (ForceRefresh): true when the call now has another token to replay with.
func (u *Upstream) Renew(ctx context.Context) (bool, error) {
	refused := u.Token()
	conn, err := u.e.ForceRefresh(ctx, u.key, refused)
	if err != nil {
		return false, err
	}
	if conn.Values[u.cc.cfg.AccessTokenVariableName] == refused {
		return false, nil
	}
	u.mu.Lock()
	u.setConn(conn)
	u.cc.maskIn(trace.From(ctx), u.vals)
	u.mu.Unlock()
	return true, nil
}

// DotSegments reports whether an escaped URL path holds a '.' or '..'
// segment, or a segment whose unescaping holds '/' or '\' (an encoded
// slash), either of which could make it leave the path it starts with.
func DotSegments(escaped string) bool {
	for seg := range strings.SplitSeq(escaped, "/") {
		s, err := url.PathUnescape(seg)
		if err != nil || s == "." || s == ".." || strings.ContainsAny(s, "/\\") {
			return true
		}
	}
	return false
}

// readLimited reads r up to limit bytes: the bytes and true when r ended
// within the limit; otherwise what was read and false.
func readLimited(r io.Reader, limit int64) ([]byte, bool, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return buf.Bytes(), false, err
	}
	return buf.Bytes(), n <= limit, nil
}
