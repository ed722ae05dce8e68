package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/outbound"
	"github.com/latchkey/latchkey/pkg/proxy"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/trace"
	"github.com/latchkey/latchkey/pkg/webhook"
)

// Config is the server's configuration, from flags and environment.
type Config struct {
	Addr        string
	DataDir     string
	PublicURL   string
	DatabaseURL string
	AppsDir     string
	// AdminAPIKey, when set, is an admin key accepted while the server runs
	// with it (LATCHKEY_ADMIN_API_KEY), for automation; it is never stored,
	// so a restart without it, or with another value, ends it.
	AdminAPIKey string
	// RefreshMargin is how long before expiry the background worker
	// refreshes tokens; RefreshInterval is its pause between rounds, and a
	// negative one turns it off.
	RefreshMargin   time.Duration
	RefreshInterval time.Duration
	// SweepInterval is how often expired links, states and OAuth tokens,
	// and traces past their retention, are deleted: 10 minutes when zero,
	// never when negative (tests shorten it; there is no flag).
	SweepInterval time.Duration
	// EncryptionKeys are LATCHKEY_ENCRYPTION_KEY's keys; when empty, the key
	// file in the data folder is used, and created on first run.
	EncryptionKeys string
	// ConnectionCacheSize bounds the store's cache of decrypted connections
	// for token reads: 0 is sqlstore's default, negative turns it off (the
	// operator commands, which read no tokens, run without it).
	ConnectionCacheSize int
	// AllowPrivateUpstreams lets requests to providers and webhooks reach
	// loopback, private and link-local addresses (self-hosted providers,
	// tests, the quickstart's demo provider); off, they are refused on the
	// address actually dialled.
	AllowPrivateUpstreams bool
	// NoTraces turns flow traces off: no authorization, refresh or call is
	// recorded (see package trace).
	NoTraces bool
	// MetricsAddr, when set, is the address /metrics is served on, without
	// a key (keep it private); when empty, /metrics is served on Addr and
	// needs an admin API key.
	MetricsAddr string
	// TrustedProxies is LATCHKEY_TRUSTED_PROXIES: addresses and CIDR ranges
	// of the reverse proxies whose X-Forwarded-For names the client (for
	// sign-in throttling); empty trusts none.
	TrustedProxies string
}

// Bounds of the worker's flags: a round every nanosecond, or a margin of a
// year, would have the worker refresh every token on every round.
var (
	refreshMarginBounds   = latchkey.DurationBounds{Min: time.Second, Max: 24 * time.Hour}
	refreshIntervalBounds = latchkey.DurationBounds{Min: time.Second, Max: time.Hour}
)

// check returns a startup error naming the first flag of cfg out of bounds.
func (cfg Config) check() error {
	if cfg.RefreshMargin != 0 {
		if err := refreshMarginBounds.Check(cfg.RefreshMargin); err != nil {
			return fmt.Errorf("--refresh-margin (LATCHKEY_REFRESH_MARGIN) %s: %v", cfg.RefreshMargin, err)
		}
	}
	if cfg.RefreshInterval > 0 {
		if err := refreshIntervalBounds.Check(cfg.RefreshInterval); err != nil {
			return fmt.Errorf("--refresh-interval (LATCHKEY_REFRESH_INTERVAL) %s: %v, or negative to turn the worker off", cfg.RefreshInterval, err)
		}
	}
	return nil
}

// checkEnvDurations returns an error naming the first of the environment
// variables that is set but holds no duration, rather than letting its
// flag's default apply in silence.
func checkEnvDurations(names ...string) error {
	for _, name := range names {
		if v := os.Getenv(name); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				return fmt.Errorf("%s=%q is not a duration such as \"30s\" or \"5m\"", name, v)
			}
		}
	}
	return nil
}

// envOr returns the environment variable name's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envInt returns the environment variable name's value as an integer, or
// def when it is unset or not an integer.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// envDuration returns the environment variable name's value as a duration,
// or def when it is unset or not a duration.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// storeFlags registers the flags every command that opens the database
// shares.
// envFlag defines --env, the environment a command acts in
// (LATCHKEY_ENV); def is its default.
func envFlag(fs *flag.FlagSet, def string) *string {
	return fs.String("env", envOr("LATCHKEY_ENV", def), "the environment to act in, such as dev or prod (LATCHKEY_ENV)")
}

// inEnvironment returns ctx acting in env, refusing a name that is not one.
func inEnvironment(ctx context.Context, env string) (context.Context, error) {
	if !latchkey.Environment(env).Valid() {
		return nil, fmt.Errorf("--env %q: an environment's name %s", env, latchkey.NameRule)
	}
	return latchkey.WithEnvironment(ctx, latchkey.Environment(env)), nil
}

func storeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("LATCHKEY_DATA_DIR", "data"), "folder for the SQLite database and the key file (LATCHKEY_DATA_DIR)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("LATCHKEY_DATABASE_URL", ""), "postgres://… to use PostgreSQL; empty for SQLite in the data folder (LATCHKEY_DATABASE_URL)")
	cfg.EncryptionKeys = os.Getenv("LATCHKEY_ENCRYPTION_KEY")
	cfg.ConnectionCacheSize = -1 // serve's flag turns it on
}

// Main is a running Latchkey server: built by Run, stopped by Close. Tests
// start it on port 0 with a temporary data folder.
type Main struct {
	Config Config
	// Now and HTTPClient, when set, replace the clock and the client for
	// providers (tests inject them).
	Now        func() time.Time
	HTTPClient *http.Client
	Logger     *slog.Logger
	Stdout     io.Writer
	// KeyReloadInterval is how often, in key-file mode, the server looks
	// for a changed key file to load; 0 is DefaultKeyReloadInterval.
	KeyReloadInterval time.Duration
	// Webhooks tunes the webhook dispatcher (tests shorten its waits); its
	// Store and Logger are the server's. It keeps real time, not Now, since
	// receivers check the signatures' timestamps against their clocks.
	Webhooks webhook.Config
	// WrapHandler, when set, wraps the API's handler (the tests check every
	// request and response against the OpenAPI document with it).
	WrapHandler func(http.Handler) http.Handler

	// URL is the address the server listens on, once Run returned.
	URL string
	// MetricsURL is the address of the metrics listener (Config.MetricsAddr),
	// once Run returned; empty without one.
	MetricsURL string

	store *sqlstore.Store
	api   *httpapi.Server
	// history is api once it exists: the engine's events go to its audit
	// log too, as each connection's history.
	history atomic.Pointer[httpapi.Server]
	// traces writes the flow traces, nil when they are off.
	traces   *trace.Writer
	server   *http.Server
	listener net.Listener
	done     chan error
	reload   *keyReloader
	// stopWorker ends the refresh worker; workerDone closes when it has.
	stopWorker context.CancelFunc
	workerDone chan struct{}
	// stopSweep ends the sweep; sweepDone closes when it has.
	stopSweep context.CancelFunc
	sweepDone chan struct{}
	webhooks  *webhook.Dispatcher
	// metricsServer serves /metrics on Config.MetricsAddr; metricsDone
	// receives its Serve's end.
	metricsServer *http.Server
	metricsDone   chan error
	// envKey is the admin key of LATCHKEY_ADMIN_API_KEY, never stored.
	envKey latchkey.APIKey
}

// Run opens the store (applying migrations), makes sure an admin key exists,
// loads the apps folder, and starts serving; it returns once the server
// listens.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if m.Stdout == nil {
		m.Stdout = os.Stdout
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if err := m.Config.check(); err != nil {
		return err
	}
	m.reload = newKeyReloader(m.Config, m.KeyReloadInterval, m.Logger)
	st, err := openStore(ctx, m.Config, m.Logger)
	if err != nil {
		return err
	}
	m.store = st
	m.reload.start(st)
	if err := m.ensureAdminKey(ctx); err != nil {
		return err
	}
	if err := m.ensureFirstAdmin(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	m.listener = ln
	m.URL = "http://" + ln.Addr().String()
	public := strings.TrimSuffix(m.Config.PublicURL, "/")
	if public == "" {
		public = m.URL
	}
	metrics := httpapi.NewMetrics()
	// One transport for every outbound request, with the address check
	// unless private upstreams are allowed; a client injected by a test
	// brings its own.
	httpClient := m.HTTPClient
	if httpClient == nil {
		httpClient = outbound.NewClient(30*time.Second, outbound.Options{AllowPrivate: m.Config.AllowPrivateUpstreams})
	}
	whc := m.Webhooks
	whc.Store, whc.Logger, whc.Observe = st, m.Logger, metrics.WebhookDelivery
	if whc.HTTPClient == nil {
		whc.HTTPClient = &http.Client{Timeout: webhook.DefaultTimeout, Transport: httpClient.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	m.webhooks = webhook.New(whc)
	m.webhooks.Start()
	var sink trace.Sink
	if !m.Config.NoTraces {
		// The engine and the API server each wrap their transport to record
		// requests in the trace their context carries.
		m.traces = trace.NewWriter(st, m.Logger)
		sink = m.traces
	}
	engine := flow.New(flow.Config{
		Traces: sink,
		Store:  st, HTTPClient: httpClient, Now: m.Now, Logger: m.Logger,
		CallbackURL: public + "/oauth/callback", ConnectURL: public + "/connect",
		EnvironmentURL: environmentURL(st),
		Events: func(ctx context.Context, events ...latchkey.Event) {
			m.webhooks.Emit(ctx, events...)
			if srv := m.history.Load(); srv != nil {
				srv.RecordEvents(ctx, events...)
			}
		},
		Observe: metrics,
	})
	if m.Config.AppsDir != "" {
		if err := loadApps(ctx, engine, m.Config.AppsDir, documentVariables(public), m.Logger); err != nil {
			return err
		}
	}
	proxies, err := httpapi.ParseTrustedProxies(m.Config.TrustedProxies)
	if err != nil {
		return fmt.Errorf("LATCHKEY_TRUSTED_PROXIES: %w", err)
	}
	var metricsOnAPI http.Handler
	if m.Config.MetricsAddr == "" {
		metricsOnAPI = metrics.Handler()
	}
	transport := httpClient.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	srv, err := httpapi.New(httpapi.Config{Engine: engine, Store: st, Logger: m.Logger, Now: m.Now, WebhooksChanged: m.webhooks.Forget,
		EnvAdminKey: m.envKey, TrustedProxies: proxies, MetricsHandler: metricsOnAPI,
		Proxy: &proxy.Proxy{Transport: transport}, Metrics: metrics, DiscoveryClient: httpClient, Traces: m.traces})
	if err != nil {
		return err
	}
	m.api = srv
	m.history.Store(srv)
	m.workerDone = make(chan struct{})
	if m.Config.RefreshInterval >= 0 {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopWorker = cancel
		w := &flow.Worker{Engine: engine, Interval: m.Config.RefreshInterval, Margin: m.Config.RefreshMargin}
		go func() { defer close(m.workerDone); w.Run(wctx) }()
	} else {
		close(m.workerDone)
	}
	if interval := m.Config.SweepInterval; interval >= 0 {
		if interval == 0 {
			interval = defaultSweepInterval
		}
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopSweep, m.sweepDone = cancel, make(chan struct{})
		go func() { defer close(m.sweepDone); sweep(sctx, st, m.Now, interval, m.Logger) }()
	}
	if m.Config.MetricsAddr != "" {
		mln, err := net.Listen("tcp", m.Config.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics address: %w", err)
		}
		m.MetricsURL = "http://" + mln.Addr().String()
		m.metricsServer = &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
		m.metricsDone = make(chan error, 1)
		go func() { m.metricsDone <- m.metricsServer.Serve(mln) }()
		m.Logger.Info("latchkey serves its metrics", "addr", mln.Addr().String())
	}
	m.api = srv
	var handler http.Handler = srv
	if m.WrapHandler != nil {
		handler = m.WrapHandler(srv)
	}
	m.server = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
	m.done = make(chan error, 1)
	go func() { m.done <- m.server.Serve(ln) }()
	m.Logger.Info("latchkey is serving", "addr", ln.Addr().String(), "public_url", public)
	return nil
}

// Close stops the server, letting requests in flight finish, and closes the
// store.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs = append(errs, m.server.Shutdown(ctx))
		if err := <-m.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if m.metricsServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errs = append(errs, m.metricsServer.Shutdown(ctx))
		if err := <-m.metricsDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if m.stopWorker != nil {
		m.stopWorker()
		<-m.workerDone // refreshes in flight finish, so no provider answer is lost
	}
	if m.stopSweep != nil {
		m.stopSweep()
		<-m.sweepDone
	}
	if m.webhooks != nil {
		m.webhooks.Close() // after the server and the worker, which emit events; undelivered ones stay stored
	}
	if m.api != nil {
		m.history.Store(nil)
		m.api.Close() // writes the audit events still queued
	}
	if m.traces != nil {
		m.traces.Close() // after everything that traces: what is queued is written
	}
	m.reload.stop()
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

// Store returns the server's store (for tests).
func (m *Main) Store() store.Store { return m.store }

// ensureAdminKey takes LATCHKEY_ADMIN_API_KEY as an admin key held in
// memory (valid while the variable holds it), or, on a database with no
// admin key, generates one, stores it and prints it once. Keys that earlier
// versions stored from the variable are revoked first, so that a key once
// published in the variable ends with it.
func (m *Main) ensureAdminKey(ctx context.Context) error {
	now := m.Now()
	keys, err := m.store.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Name == apikey.EnvName && k.RevokedAt == nil {
			if err := m.store.RevokeAPIKey(ctx, k.ID, now); err != nil {
				return err
			}
			m.Logger.Warn("revoked an admin key stored from "+apikey.EnvName+" by an earlier version: the variable's key is now valid only while the variable holds it", "key", k.ID)
		}
	}
	if m.Config.AdminAPIKey != "" {
		rec, err := apikey.FromSecret(m.Config.AdminAPIKey, latchkey.ScopeAdmin, apikey.EnvName, now)
		if err != nil {
			return fmt.Errorf("%s: %w", apikey.EnvName, err)
		}
		m.envKey = rec
		return nil
	}
	keys, err = m.store.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.IsAdmin() {
			return nil
		}
	}
	rec, full, err := apikey.Generate(latchkey.ScopeAdmin, "", "first run", now)
	if err != nil {
		return err
	}
	if err := m.store.CreateAPIKey(ctx, rec); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "\nAn admin API key was created. It is shown this once; keep it somewhere safe:\n\n  %s\n\n", full)
	return nil
}

// openStore opens the configured database with the configured keys.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*sqlstore.Store, error) {
	var keys []secretbox.Key
	var err error
	if cfg.EncryptionKeys != "" {
		keys, err = secretbox.ParseKeys(cfg.EncryptionKeys)
		if err != nil {
			return nil, fmt.Errorf("LATCHKEY_ENCRYPTION_KEY: %w", err)
		}
	} else {
		keys, err = secretbox.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "encryption.key"))
		if err != nil {
			return nil, err
		}
	}
	ring, err := secretbox.NewKeyring(keys...)
	if err != nil {
		return nil, err
	}
	url := cfg.DatabaseURL
	if url == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		url = filepath.Join(cfg.DataDir, "latchkey.db")
	}
	return sqlstore.Open(ctx, sqlstore.Config{URL: url, Keyring: ring, Logger: logger, ConnectionCacheSize: cfg.ConnectionCacheSize})
}

// documentVariables is what ${NAME} in an app document file reads: the
// environment, except that LATCHKEY_PUBLIC_URL is the public URL in use (for
// serve, also the one derived from --addr; for apply, the server's URL
// unless the variable is set), so that a document follows the addresses
// actually used.
func documentVariables(publicURL string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if name == "LATCHKEY_PUBLIC_URL" {
			return publicURL, true
		}
		return os.LookupEnv(name)
	}
}

// loadApps saves every app document (.yaml, .yml, .json) of a folder, its
// variable references expanded with vars.
func loadApps(ctx context.Context, engine *flow.Engine, dir string, vars func(string) (string, bool), logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("apps folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		var app latchkey.App
		data, err = latchkey.ExpandVariables(data, vars)
		if err == nil {
			app, err = latchkey.ParseApp(data)
		}
		if err == nil {
			_, err = engine.SaveApp(ctx, app)
		}
		if errors.Is(err, latchkey.ErrConflict) {
			// A document that would strand connections stops the start: a
			// folder read at every start cannot delete them unasked.
			return fmt.Errorf("%s: %w; restore the configs in the file, or apply it once to the running server with latchkey apply --delete-connections", name, err)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		logger.Info("app loaded", "file", name, "app", app.Name)
	}
	return nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", envOr("LATCHKEY_ADDR", "127.0.0.1:8080"), "address to listen on (LATCHKEY_ADDR)")
	fs.StringVar(&cfg.PublicURL, "public-url", envOr("LATCHKEY_PUBLIC_URL", ""), "URL users and providers reach this server at; default http://ADDR (LATCHKEY_PUBLIC_URL)")
	fs.DurationVar(&cfg.RefreshMargin, "refresh-margin", envDuration("LATCHKEY_REFRESH_MARGIN", flow.DefaultWorkerMargin), "refresh tokens this long before they expire (LATCHKEY_REFRESH_MARGIN)")
	fs.DurationVar(&cfg.RefreshInterval, "refresh-interval", envDuration("LATCHKEY_REFRESH_INTERVAL", flow.DefaultWorkerInterval), "pause of the background refresh worker between rounds; negative turns it off (LATCHKEY_REFRESH_INTERVAL)")
	fs.StringVar(&cfg.AppsDir, "apps", envOr("LATCHKEY_APPS_DIR", ""), "folder of app documents to load at start (LATCHKEY_APPS_DIR)")
	fs.BoolVar(&cfg.NoTraces, "no-traces", envOr("LATCHKEY_TRACES", "on") == "off",
		"record no flow traces (the steps of each authorization, refresh and call, secrets masked) (LATCHKEY_TRACES=off)")
	fs.BoolVar(&cfg.AllowPrivateUpstreams, "allow-private-upstreams", envOr("LATCHKEY_ALLOW_PRIVATE_UPSTREAMS", "") == "true",
		"let requests to providers and webhooks reach loopback, private and link-local addresses, for self-hosted providers and local development (LATCHKEY_ALLOW_PRIVATE_UPSTREAMS=true)")
	storeFlags(fs, &cfg)
	if err := checkEnvDurations("LATCHKEY_REFRESH_MARGIN", "LATCHKEY_REFRESH_INTERVAL"); err != nil {
		return err
	}
	fs.IntVar(&cfg.ConnectionCacheSize, "connection-cache", envInt("LATCHKEY_CONNECTION_CACHE", 0),
		"how many decrypted connections to keep for token reads; 0 for the default (10000), negative for none (LATCHKEY_CONNECTION_CACHE)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", envOr("LATCHKEY_METRICS_ADDR", ""),
		"address to serve /metrics on, without a key (keep it private); empty serves it on --addr for admin API keys only (LATCHKEY_METRICS_ADDR)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", envOr("LATCHKEY_TRUSTED_PROXIES", ""),
		"comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client; empty trusts none (LATCHKEY_TRUSTED_PROXIES)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg.AdminAPIKey = os.Getenv("LATCHKEY_ADMIN_API_KEY")
	m := &Main{Config: cfg, Stdout: stdout, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	<-ctx.Done()
	return m.Close()
}

// cliLogger is the logger of the operator commands (apikeys, admins, keys):
// warnings and errors only, so their own output stays readable.
func cliLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
