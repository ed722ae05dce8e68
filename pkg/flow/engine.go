package flow

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/trace"
)

// Defaults of Config.
const (
	DefaultLinkTTL       = 10 * time.Minute
	DefaultStateTTL      = 10 * time.Minute
	DefaultRefreshMargin = time.Minute
	DefaultAppCacheTTL   = 2 * time.Second
	// DefaultRefreshBackoff is the wait after a first failed refresh; it
	// doubles with each failure up to DefaultMaxRefreshBackoff.
	DefaultRefreshBackoff    = 2 * time.Second
	DefaultMaxRefreshBackoff = 5 * time.Minute
	// DefaultMaxRefreshFailures is how many refreshes of an expired token
	// may fail in a row before the connection is refresh_failed.
	DefaultMaxRefreshFailures = 8
)

// Config configures an Engine. Store, CallbackURL and ConnectURL are required.
type Config struct {
	Store store.Store
	// HTTPClient sends requests to providers; its Timeout bounds each one.
	HTTPClient *http.Client
	// Now is the clock; tests inject one to move through expiry.
	Now func() time.Time
	// CallbackURL is Latchkey's own OAuth callback (the default
	// {{redirect_uri}}).
	CallbackURL string
	// ConnectURL is the base of landing-page links; a link's token is
	// appended to it.
	ConnectURL string
	// LinkTTL is how long a link to the landing page lives.
	LinkTTL time.Duration
	// StateTTL is how long a user has to come back from the provider.
	StateTTL time.Duration
	// RefreshMargin is how long before its expiry a token is refreshed
	// when read; a config's refresh_margin overrides it.
	RefreshMargin time.Duration
	// AppCacheTTL bounds how long a compiled app read from the store is
	// reused before the store is asked again (other replicas may change it).
	AppCacheTTL time.Duration
	// RefreshBackoff, MaxRefreshBackoff and MaxRefreshFailures govern
	// retries of refreshes that fail for a passing reason (network,
	// timeouts, 429, 5xx): capped exponential backoff with jitter, or the
	// provider's Retry-After; then refresh_failed.
	RefreshBackoff     time.Duration
	MaxRefreshBackoff  time.Duration
	MaxRefreshFailures int
	Logger             *slog.Logger
	// Events, when set, is told when a connection is created, refreshed,
	// ends needs_reauth or refresh_failed after a failed refresh, or is
	// deleted: one event a call, or the events of one of the refresh
	// worker's batch writes at once. It runs on the caller's goroutine,
	// after the write, and should return quickly; webhooks are sent from it.
	Events func(ctx context.Context, events ...latchkey.Event)
	// Observe, when set, hears token reads, provider requests and refresh
	// outcomes, for metrics.
	Observe Observer
	// EnvironmentURL, when set, returns the public URL of the host of the
	// environment ctx says, "" for none: that environment's links and
	// callback (its default {{redirect_uri}}) are on it instead of
	// ConnectURL's and CallbackURL's host, for deployments that give
	// production a host of its own. Its callback path is CallbackURL's.
	EnvironmentURL func(ctx context.Context) string
	// Traces, when set, receives a trace of each authorization, refresh
	// and declared API call (see package trace); HTTPClient's transport is
	// then wrapped to record the requests.
	Traces trace.Sink
}

// Engine runs OAuth flows. It is safe for concurrent use.
type Engine struct {
	cfg  Config
	mu   sync.Mutex
	apps map[cacheKey]cachedApp
	// installs keeps orgs' installation values for API calls (installedValues).
	installs map[cacheKey]cachedInstall
	refresh  singleflight.Group
	loading  singleflight.Group
}

type cachedApp struct {
	compiled *Compiled
	loaded   time.Time
}

// New returns an Engine with cfg's zero fields defaulted.
func New(cfg Config) *Engine {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient(30 * time.Second)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = DefaultLinkTTL
	}
	if cfg.StateTTL == 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.RefreshMargin == 0 {
		cfg.RefreshMargin = DefaultRefreshMargin
	}
	if cfg.AppCacheTTL == 0 {
		cfg.AppCacheTTL = DefaultAppCacheTTL
	}
	if cfg.RefreshBackoff == 0 {
		cfg.RefreshBackoff = DefaultRefreshBackoff
	}
	if cfg.MaxRefreshBackoff == 0 {
		cfg.MaxRefreshBackoff = DefaultMaxRefreshBackoff
	}
	if cfg.MaxRefreshFailures == 0 {
		cfg.MaxRefreshFailures = DefaultMaxRefreshFailures
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Traces != nil {
		cfg.HTTPClient = trace.Client(cfg.HTTPClient)
	}
	return &Engine{cfg: cfg, apps: map[cacheKey]cachedApp{}, installs: map[cacheKey]cachedInstall{}}
}

// MaxIdleConnsPerProvider is how many idle connections NewHTTPClient's
// client keeps open to one provider host. net/http's default of 2 would
// have the worker's concurrent refreshes, and concurrent reads, close and
// dial (with TLS, handshake) a connection for most requests to a provider.
const MaxIdleConnsPerProvider = 64

// NewHTTPClient returns the client the engine uses for providers by default:
// a timeout, no redirects followed, so that client credentials sent to a
// token endpoint never travel on to another address, and a transport of its
// own (net/http's default one's settings: proxy from the environment,
// HTTP/2, dial and TLS timeouts) that keeps MaxIdleConnsPerProvider
// connections to each provider for reuse.
func NewHTTPClient(timeout time.Duration) *http.Client {
	var t *http.Transport
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		t = d.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
	}
	t.MaxIdleConnsPerHost = MaxIdleConnsPerProvider
	if t.MaxIdleConns < 4*MaxIdleConnsPerProvider {
		t.MaxIdleConns = 4 * MaxIdleConnsPerProvider
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

// SaveApp compiles an app document and stores it. Secret config values sent
// back as latchkey.Redacted keep their stored value. A document that does not
// compile is refused whole with an EINVALID error naming each field; one
// that drops an OAuth config which still has connections is refused with
// ECONFLICT naming the config and how many (see SaveAppWith).
func (e *Engine) SaveApp(ctx context.Context, app latchkey.App) (latchkey.App, error) {
	saved, _, err := e.SaveAppWith(ctx, app, SaveOptions{})
	return saved, err
}

// SaveOptions tune SaveAppWith.
type SaveOptions struct {
	// DeleteConnections lets the document drop OAuth configs that still
	// have connections: they are deleted with the save, without revocation
	// at the provider (the config that told how is gone), and a
	// connection.deleted event is sent for each.
	DeleteConnections bool
	// Create only creates: an app of the same name that exists already is
	// not replaced, and the save is refused with ECONFLICT naming the
	// field name (see store.PutAppOptions.Create).
	Create bool
}

// SaveAppWith is SaveApp with options; it returns the saved document and
// the connections the save deleted.
func (e *Engine) SaveAppWith(ctx context.Context, app latchkey.App, opts SaveOptions) (latchkey.App, []latchkey.ConnectionKey, error) {
	saved, deleted, err := e.saveApp(ctx, app, opts)
	for _, k := range deleted {
		e.emit(ctx, latchkey.EventConnectionDeleted, latchkey.Connection{ConnectionKey: k}, nil)
	}
	return saved, deleted, err
}

func (e *Engine) saveApp(ctx context.Context, app latchkey.App, opts SaveOptions) (latchkey.App, []latchkey.ConnectionKey, error) {
	// A create keeps nothing of a stored app: the store refuses it if one
	// exists.
	if old, err := e.cfg.Store.GetApp(ctx, app.Name); err == nil {
		if !opts.Create {
			app.KeepRedacted(old)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return latchkey.App{}, nil, err
	}
	if err := app.ValidateValues(); err != nil {
		return latchkey.App{}, nil, err
	}
	compiled, err := Compile(app)
	if err != nil {
		return latchkey.App{}, nil, err
	}
	saved, deleted, err := e.cfg.Store.PutAppWith(ctx, compiled.App, store.PutAppOptions{DeleteConnections: opts.DeleteConnections, Create: opts.Create})
	if err != nil {
		return latchkey.App{}, nil, err
	}
	compiled.App = saved
	e.mu.Lock()
	e.apps[appCacheKey(ctx, saved.Name)] = cachedApp{compiled: compiled, loaded: e.cfg.Now()}
	e.mu.Unlock()
	return saved, deleted, nil
}

// DeleteApp deletes an app with everything that belongs to it.
func (e *Engine) DeleteApp(ctx context.Context, name string) error {
	e.mu.Lock()
	delete(e.apps, appCacheKey(ctx, name))
	e.mu.Unlock()
	return e.cfg.Store.DeleteApp(ctx, name)
}

// App returns the compiled app called name, from a short-lived cache or the
// store.
func (e *Engine) App(ctx context.Context, name string) (*Compiled, error) {
	now := e.cfg.Now()
	e.mu.Lock()
	c, ok := e.apps[appCacheKey(ctx, name)]
	e.mu.Unlock()
	if ok && now.Sub(c.loaded) < e.cfg.AppCacheTTL && now.Sub(c.loaded) >= 0 {
		return c.compiled, nil
	}
	// One load per app at a time: a cold cache under load must not compile
	// the same document once per caller.
	v, err, _ := e.loading.Do(envKey(ctx, name), func() (any, error) {
		app, err := e.cfg.Store.GetApp(ctx, name)
		if err != nil {
			return nil, err
		}
		if ok && c.compiled.App.Revision == app.Revision {
			c.loaded = now
		} else {
			compiled, err := Compile(app)
			if err != nil {
				return nil, latchkey.WrapError(latchkey.EINTERNAL, err, "the stored document of app %q does not compile", name)
			}
			c = cachedApp{compiled: compiled, loaded: now}
		}
		e.mu.Lock()
		e.apps[appCacheKey(ctx, name)] = c
		e.mu.Unlock()
		return c.compiled, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Compiled), nil
}

// cacheKey is the key of the engine's caches of compiled apps (org empty)
// and of installations: a struct, so that a lookup builds no string.
type cacheKey struct {
	env      latchkey.Environment
	app, org string
}

func appCacheKey(ctx context.Context, app string) cacheKey {
	return cacheKey{env: latchkey.EnvironmentFrom(ctx), app: app}
}

func (c *Compiled) config(name string) (*compiledConfig, error) {
	cc, ok := c.configs[name]
	if !ok {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "app %q has no OAuth config %q", c.App.Name, name)
	}
	return cc, nil
}

// values resolves the values templates of a config see for an org and a
// user: each setting's default, under the config's fixed values, under the
// org's installation, under the user's own values.
func (e *Engine) values(ctx context.Context, c *Compiled, cc *compiledConfig, org, user string) (map[string]string, error) {
	inst, err := e.cfg.Store.GetInstallation(ctx, c.App.Name, org)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	}
	var uv map[string]string
	if user != "" {
		if uv, err = e.cfg.Store.UserValues(ctx, c.App.Name, org, user); err != nil {
			return nil, err
		}
	}
	vals := e.valuesFrom(c, cc, inst.Values, uv)
	if vals["redirect_uri"] == e.cfg.CallbackURL && inst.Values["redirect_uri"] == "" && uv["redirect_uri"] == "" {
		vals["redirect_uri"] = e.callbackURL(ctx)
	}
	return vals, nil
}

// envURL is the public URL of the environment of ctx, "" for none.
func (e *Engine) envURL(ctx context.Context) string {
	if e.cfg.EnvironmentURL == nil {
		return ""
	}
	return strings.TrimSuffix(e.cfg.EnvironmentURL(ctx), "/")
}

// callbackURL is the callback of the environment of ctx: CallbackURL, on
// the environment's own host when it has one.
func (e *Engine) callbackURL(ctx context.Context) string {
	base := e.envURL(ctx)
	if base == "" {
		return e.cfg.CallbackURL
	}
	path := "/oauth/callback"
	if u, err := url.Parse(e.cfg.CallbackURL); err == nil && u.Path != "" {
		path = u.Path
	}
	return base + path
}

// valuesFrom is values with the installation's values and the user's
// already read.
func (e *Engine) valuesFrom(c *Compiled, cc *compiledConfig, installed, user map[string]string) map[string]string {
	vals := map[string]string{}
	for _, s := range c.App.Settings {
		if s.Default != "" {
			vals[s.Name] = s.Default
		}
	}
	if cc != nil {
		for k, v := range cc.cfg.Values {
			vals[k] = v
		}
	}
	for k, v := range c.App.OrgValues(installed) {
		if v != "" {
			vals[k] = v
		}
	}
	for k, v := range user {
		vals[k] = v
	}
	if vals["redirect_uri"] == "" {
		vals["redirect_uri"] = e.cfg.CallbackURL
	}
	if cc != nil && len(cc.cfg.Scopes) > 0 {
		sep := cc.cfg.ScopeSeparator
		if sep == "" {
			sep = " "
		}
		vals["scope"] = strings.Join(cc.cfg.Scopes, sep)
	}
	return vals
}

// installed reports an error unless the org's installation fills every
// required org-level setting the config needs.
func (e *Engine) checkInstalled(ctx context.Context, c *Compiled, cc *compiledConfig, org string) error {
	values := map[string]string{}
	inst, err := e.cfg.Store.GetInstallation(ctx, c.App.Name, org)
	switch {
	case err == nil:
		values = inst.Values
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if missing := c.App.MissingRequired(values, cc.cfg); len(missing) > 0 {
		var fe latchkey.FieldErrors
		for _, m := range missing {
			fe.Add(m, "is required: org %q must install app %q with this setting first", org, c.App.Name)
		}
		return fe.Err("the org has not filled the app's required settings")
	}
	return nil
}
