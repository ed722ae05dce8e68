package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/outbound"
	"github.com/latchkey/latchkey/pkg/proxy"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/trace"
	"github.com/latchkey/latchkey/templates"
)

// Config configures a Server.
type Config struct {
	Engine *flow.Engine
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; tests inject one.
	Now func() time.Time
	// WebhooksChanged, when set, hears that a webhook of app was created or
	// deleted (the webhook dispatcher's Forget).
	WebhooksChanged func(app string)
	// EnvAdminKey, when its Hash is set, is the admin key of
	// LATCHKEY_ADMIN_API_KEY: accepted while this server runs with it,
	// never stored, so that a restart without the variable (or with
	// another value) ends it.
	EnvAdminKey latchkey.APIKey
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// address (ParseTrustedProxies); without them the address is the TCP
	// peer's, and X-Forwarded-For is ignored.
	TrustedProxies []*net.IPNet
	// MetricsHandler, when set, is served at GET /metrics for admin keys;
	// leave it nil when the metrics have a listen address of their own.
	MetricsHandler http.Handler
	// Proxy sends proxied and declared API calls; Metrics, when set,
	// counts them.
	Proxy   *proxy.Proxy
	Metrics *Metrics
	// Catalog is the provider catalog; nil means the embedded one, loaded
	// by New.
	Catalog *catalog.Catalog
	// DiscoveryClient reads issuers' metadata for POST
	// /api/v1/providers/discover; nil means a client through the SSRF-safe
	// dialer (outbound) with a 10 s timeout.
	DiscoveryClient *http.Client
	// Traces, when set, records proxied and declared calls (the engine's
	// Config.Traces records the OAuth flows), and the trace routes flush it
	// before they read. New wraps Proxy's Transport to record requests.
	Traces *trace.Writer
}

// Server serves Latchkey's HTTP routes.
type Server struct {
	engine *flow.Engine
	store  store.Store
	logger *slog.Logger
	now    func() time.Time
	echo   *echo.Echo
	pages  pageSet
	keys   *keyCache
	audit  *auditLog
	// keyUses writes when API keys were last used (apikeyuse.go).
	keyUses *keyUses
	// secrets holds the server secrets read once (serverSecret): name →
	// []byte.
	secrets sync.Map
	// webhooksChanged is Config.WebhooksChanged, never nil.
	webhooksChanged func(app string)
	// envKey is Config.EnvAdminKey.
	envKey latchkey.APIKey
	// signIns throttles failed sign-ins by account and client address.
	signIns *signInThrottle
	// routes knows which methods the routes take on a path (edge.go).
	routes          routeTable
	proxy           *proxy.Proxy
	metrics         *Metrics
	catalog         *catalog.Catalog
	discoveryClient *http.Client
	// oauth is Latchkey's own OAuth server (oauthserver.go); oauthUses
	// throttles the writes of its authorizations' last use.
	oauth     oauthProvider
	oauthUses oauthUses
	// traces is Config.Traces, nil when tracing is off.
	traces *trace.Writer
}

// New builds a Server with its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pages, err := templates.Pages()
	if err != nil {
		return nil, err
	}
	if cfg.WebhooksChanged == nil {
		cfg.WebhooksChanged = func(string) {}
	}
	if cfg.Catalog == nil {
		if cfg.Catalog, err = catalog.Default(); err != nil {
			return nil, err
		}
	}
	if cfg.DiscoveryClient == nil {
		cfg.DiscoveryClient = outbound.NewClient(10*time.Second, outbound.Options{})
	}
	s := &Server{engine: cfg.Engine, store: cfg.Store, logger: cfg.Logger, now: cfg.Now, pages: pageSet(pages), keys: newKeyCache(),
		webhooksChanged: cfg.WebhooksChanged, envKey: cfg.EnvAdminKey, signIns: newSignInThrottle(),
		proxy: cfg.Proxy, metrics: cfg.Metrics, catalog: cfg.Catalog, discoveryClient: cfg.DiscoveryClient,
		oauthUses: oauthUses{at: map[string]time.Time{}}, traces: cfg.Traces}
	if s.proxy == nil {
		s.proxy = &proxy.Proxy{Transport: outbound.NewTransport(outbound.Options{})}
	}
	if s.traces != nil {
		s.proxy.Transport = trace.Wrap(s.proxy.Transport)
	}
	s.audit = newAuditLog(cfg.Store, cfg.Logger, cfg.Now)
	s.keyUses = newKeyUses(cfg.Store, cfg.Logger)
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientAddressExtractor(cfg.TrustedProxies)
	e.Use(middleware.RequestID())
	e.Use(s.logRequests)
	// MaxBodySize; echo reads "1M" as 1,000,000 bytes. Proxied bodies
	// stream and are not limited.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1MiB", Skipper: isProxyRoute}))
	e.Use(securityHeaders)
	e.Pre(s.routeRequests)
	e.Use(s.checkInputs)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	e.GET("/connect/:token", s.landing)
	e.POST("/connect/:token", s.authorize)
	e.GET("/oauth/callback", s.callback)

	api := e.Group("/api/v1", s.authenticate)
	s.appRoutes(api)
	s.installationRoutes(api)
	s.connectionRoutes(api)
	s.apiKeyRoutes(api)
	s.adminRoutes(api)
	s.playgroundRoutes(api)
	s.sessionRoutes(e)
	s.installRoutes(e, api)
	s.uiRoutes(e)
	s.sdkRoutes(e)
	api.GET("/audit", s.listAudit)
	s.webhookRoutes(api)
	if cfg.MetricsHandler != nil {
		s.metricsRoute(e, cfg.MetricsHandler)
	}
	s.proxyRoutes(api)
	s.apiRoutes(api)
	s.docsRoutes(e)
	s.providerRoutes(api)
	s.environmentRoutes(api)
	s.oauthServerRoutes(e)
	s.oauthAdminRoutes(api)
	s.traceRoutes(api)
	s.echo = e
	return s, nil
}

// Close writes the audit events and the API key uses still queued. Call it
// after the HTTP server has stopped taking requests.
func (s *Server) Close() {
	s.keyUses.close()
	s.audit.close()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.ListAPIKeys(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// logRequests logs one line per request with its route pattern, never its
// raw URL: link tokens, codes and states travel in paths and queries.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "(no route)"
		}
		level := slog.LevelInfo
		if c.Response().Status >= 500 {
			level = slog.LevelError
		}
		if !s.logger.Enabled(c.Request().Context(), level) {
			return nil
		}
		s.logger.Log(c.Request().Context(), level, "http request",
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "route", route, "environment", string(latchkey.EnvironmentFrom(c.Request().Context())), "status", c.Response().Status,
			"duration_ms", time.Since(start).Milliseconds())
		return nil
	}
}

// securityHeaders sets the headers every response carries. The end-user
// pages send no referrer (a callback URL must not leak to a logo host) and
// cannot be framed.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// The values are shared, read-only slices of one element: a header
		// added later under the same name appends to a copy (len == cap),
		// and every proxied call is spared allocating them.
		h := c.Response().Header()
		h["Referrer-Policy"] = noReferrer
		h["X-Content-Type-Options"] = noSniff
		h["X-Frame-Options"] = frameDeny
		if !strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h["Content-Security-Policy"] = pageCSP
		}
		return next(c)
	}
}

// The values of securityHeaders' headers, in canonical form.
var (
	noReferrer = []string{"no-referrer"}[:1:1]
	noSniff    = []string{"nosniff"}[:1:1]
	frameDeny  = []string{"DENY"}[:1:1]
	pageCSP    = []string{"default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"}[:1:1]
)

// noStore marks a response that carries a token or secret as never to be
// cached (RFC 6749 §5.1).
func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Pragma", "no-cache")
}

// Routes lists the server's routes (method and path pattern), for tests
// that walk every route.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }
