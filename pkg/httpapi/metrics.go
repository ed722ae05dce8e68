package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Metrics are the server's Prometheus metrics: refreshes by outcome,
// provider request latency, token reads and webhook deliveries, labelled by
// app and OAuth config at most, never by org, user or URL. It implements
// flow.Observer; Observe is the webhook dispatcher's hook.
type Metrics struct {
	reg        *prometheus.Registry
	refreshes  *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	reads      *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	api        *apiMetrics
	// readsBy keeps reads' counters by their labels (children).
	readsBy children[[3]string, prometheus.Counter]
}

// children keeps the children of a metric vector by their label values:
// the vector's WithLabelValues hashes the values and looks them up under
// its lock on every call, which a proxied call (a token read, its count,
// its duration) paid three times. The vectors' children are never deleted,
// so a kept one stays the vector's.
type children[K comparable, M any] struct {
	mu sync.RWMutex
	m  map[K]M
}

// maxChildren bounds a children cache; past it, it starts again empty.
const maxChildren = 10000

// get returns the child of key k, made by newChild the first time.
func (c *children[K, M]) get(k K, newChild func() M) M {
	c.mu.RLock()
	m, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return m
	}
	m = newChild()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxChildren {
		c.m = make(map[K]M)
	}
	c.m[k] = m
	c.mu.Unlock()
	return m
}

var _ flow.Observer = (*Metrics)(nil)

// NewMetrics returns Metrics on a registry of their own, with the Go
// runtime's and the process's collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latchkey_refreshes_total",
			Help: "Token refreshes by outcome: success, transient (retried later) or refused (the user must connect again)."},
			[]string{"environment", "app", "config", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latchkey_provider_request_duration_seconds",
			Help:    "Duration of requests to providers' token, refresh and revocation endpoints; code 0 when no answer came.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"environment", "app", "config", "code"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latchkey_token_reads_total",
			Help: "Reads of connections' tokens."}, []string{"environment", "app", "config"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latchkey_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered, retry or failed (the last attempt)."}, []string{"outcome"}),
	}
	m.api = newAPIMetrics(m.reg)
	m.reg.MustRegister(m.refreshes, m.latency, m.reads, m.deliveries,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// TokenRead implements flow.Observer.
func (m *Metrics) TokenRead(env latchkey.Environment, app, config string) {
	labels := [3]string{envLabel(env), app, config}
	m.readsBy.get(labels, func() prometheus.Counter { return m.reads.WithLabelValues(labels[0], labels[1], labels[2]) }).Inc()
}

// ProviderRequest implements flow.Observer.
func (m *Metrics) ProviderRequest(env latchkey.Environment, app, config string, status int, d time.Duration) {
	m.latency.WithLabelValues(envLabel(env), app, config, strconv.Itoa(status)).Observe(d.Seconds())
}

// Refresh implements flow.Observer.
func (m *Metrics) Refresh(env latchkey.Environment, app, config, outcome string) {
	m.refreshes.WithLabelValues(envLabel(env), app, config, outcome).Inc()
}

// WebhookDelivery counts a webhook delivery attempt by outcome; it has the
// signature of webhook.Config.Observe.
func (m *Metrics) WebhookDelivery(outcome string) { m.deliveries.WithLabelValues(outcome).Inc() }

// Handler serves the metrics in the Prometheus text format. It asks for no
// key: serve it on a listen address of its own (--metrics-addr), or through
// Config.Metrics, where it needs an admin API key. The metrics name apps and
// OAuth configs, never an org, a user or a secret.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// metricsRoute serves h at GET /metrics for admin API keys (and signed-in
// admins): the metrics name every app and OAuth config.
func (s *Server) metricsRoute(e *echo.Echo, h http.Handler) {
	serve := func(c echo.Context) error {
		if err := requireAdmin(c); err != nil {
			return err
		}
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	e.GET("/metrics", serve, s.authenticate)
}

// envLabel is the environment label of a metric: the default environment
// for a call that said none.
func envLabel(env latchkey.Environment) string {
	if env == "" {
		return string(latchkey.DefaultEnvironment)
	}
	return string(env)
}
