package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestMetricsAfterAFlow connects a user, reads the token, lets it expire
// and reads it again (a refresh), has the provider forget it (a refused
// refresh), and delivers a webhook: /metrics, read with an admin key, shows
// each counter moved, labelled by app and config only, and names no user
// and no secret.
func TestMetricsAfterAFlow(t *testing.T) {
	h := startLatchkey(t)
	provider := providertest.New(t, providertest.Options{
		ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value", Now: h.clock.Now,
		AccessTTL: time.Hour, RedirectURIs: []string{seedCallback},
	})
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
		strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL()))
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value", "redirect_uri": "`+seedCallback+`"}`)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer recv.Close()
	h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/webhooks", testAdminKey, "application/json",
		`{"url": "`+recv.URL+`", "events": ["connection.created"]}`)

	before := h.expect(http.StatusOK, "GET", "/metrics", testAdminKey, "", "")
	if strings.Contains(string(before), "latchkey_refreshes_total{") {
		t.Fatalf("before any refresh: got a refresh counter:\n%s", before)
	}

	h.connectUser(provider, "user-4711")
	conn := "/api/v1/apps/capacity/orgs/acme/users/user-4711/connections/example"
	h.expect(http.StatusOK, "GET", conn, testAdminKey, "", "")
	h.clock.Advance(61 * time.Minute)
	h.expect(http.StatusOK, "GET", conn, testAdminKey, "", "")
	provider.RevokeAll()
	h.clock.Advance(61 * time.Minute)
	if resp, _ := h.do("GET", conn, testAdminKey, "", ""); resp.StatusCode < 400 {
		t.Fatalf("refused refresh: got HTTP %d, want an error", resp.StatusCode)
	}

	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := h.do("GET", "/metrics", testAdminKey, "", "")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: got HTTP %d %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		text = string(b)
		if strings.Contains(text, `latchkey_webhook_deliveries_total{outcome="delivered"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		`latchkey_token_reads_total{app="capacity",config="example",environment="dev"} 3`,
		`latchkey_refreshes_total{app="capacity",config="example",environment="dev",outcome="success"} 1`,
		`latchkey_refreshes_total{app="capacity",config="example",environment="dev",outcome="refused"} 1`,
		`latchkey_provider_request_duration_seconds_count{app="capacity",code="200",config="example",environment="dev"} 2`,
		`latchkey_provider_request_duration_seconds_count{app="capacity",code="400",config="example",environment="dev"} 1`,
		`latchkey_webhook_deliveries_total{outcome="delivered"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{"user-4711", "acme", "s3cr3t-client-value", testAdminKey, provider.BaseURL(), recv.URL} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics names %q", leak)
		}
	}
}

// TestMetricsNeedAnAdminKeyOrTheirOwnAddress reads /metrics, which names
// every app and OAuth config, as a stranger and as a runtime key (refused),
// as an admin key (served), and with --metrics-addr, where the metrics
// move to their own listener and the API's address no longer serves them.
func TestMetricsNeedAnAdminKeyOrTheirOwnAddress(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/secret-project", testAdminKey, "application/json",
		`{"settings": [{"name": "client_id", "level": "org"}]}`)
	runtime := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json",
		`{"scope": "runtime", "app": "secret-project"}`))["key"].(string)
	if resp, body := h.do("GET", "/metrics", "", "", ""); resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "latchkey_") {
		t.Fatalf("/metrics without a key: got HTTP %d %.80s, want 401", resp.StatusCode, body)
	}
	h.expect(http.StatusForbidden, "GET", "/metrics", runtime, "", "")
	if body := h.expect(http.StatusOK, "GET", "/metrics", testAdminKey, "", ""); !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics with an admin key: got %.200s, want the Prometheus text", body)
	}

	own := startLatchkeyWith(t, "", func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	if own.main.MetricsURL == "" {
		t.Fatal("with --metrics-addr: got no metrics listener")
	}
	resp, err := http.Get(own.main.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("the metrics listener: got HTTP %d %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	own.expect(http.StatusNotFound, "GET", "/metrics", testAdminKey, "", "")
	resp, err = http.Get(own.main.MetricsURL + "/api/v1/apps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the API on the metrics listener: got HTTP %d, want 404", resp.StatusCode)
	}
}
