package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics count proxied and declared calls, by app, config, kind
// (proxy or api) and status class, never by org, user or path.
type apiMetrics struct {
	calls     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	refreshes *prometheus.CounterVec
	retries   *prometheus.CounterVec
	// callsBy and latencyBy keep the children of calls and latency, the
	// two every call counts in.
	callsBy   children[[4]string, prometheus.Counter]
	latencyBy children[[3]string, prometheus.Observer]
}

func newAPIMetrics(reg *prometheus.Registry) *apiMetrics {
	m := &apiMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latchkey_api_calls_total",
			Help: "Proxied (kind=proxy) and declared (kind=api) calls by status class (2xx…5xx, or latchkey for Latchkey's own refusals)."},
			[]string{"app", "config", "kind", "class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latchkey_api_call_duration_seconds",
			Help:    "Duration of proxied and declared calls until the answer's headers, retries and refreshes included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"app", "config", "kind"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latchkey_api_token_refreshes_total",
			Help: "Calls whose token the provider refused and Latchkey refreshed (401 or the config's token-expired answer)."},
			[]string{"app", "config", "kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latchkey_api_retries_total",
			Help: "Retries of proxied and declared calls (network errors, 429, 5xx)."}, []string{"app", "config", "kind"}),
	}
	reg.MustRegister(m.calls, m.latency, m.refreshes, m.retries)
	return m
}

// statusClasses are the class labels of statuses 0 to 999.
var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx"}

// APICall records one proxied or declared call; refused says it ended in
// Latchkey's own refusal rather than the provider's answer.
func (m *Metrics) APICall(app, config, kind string, status int, refused bool, d time.Duration, retries int, refreshed bool) {
	class := "latchkey"
	if !refused {
		if c := status / 100; c >= 0 && c < len(statusClasses) {
			class = statusClasses[c]
		} else {
			class = strconv.Itoa(c) + "xx"
		}
	}
	a := m.api
	cl := [4]string{app, config, kind, class}
	a.callsBy.get(cl, func() prometheus.Counter { return a.calls.WithLabelValues(cl[0], cl[1], cl[2], cl[3]) }).Inc()
	ll := [3]string{app, config, kind}
	a.latencyBy.get(ll, func() prometheus.Observer { return a.latency.WithLabelValues(ll[0], ll[1], ll[2]) }).Observe(d.Seconds())
	if refreshed {
		m.api.refreshes.WithLabelValues(app, config, kind).Inc()
	}
	if retries > 0 {
		m.api.retries.WithLabelValues(app, config, kind).Add(float64(retries))
	}
}
