package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/webhook"
)

// TestWebhooksThroughTheAPI registers a webhook through the API, connects a
// user, and sees the signed connection.created arrive, the delivery in the
// log, the secret shown once and sealed at rest, and the webhook deleted.
func TestWebhooksThroughTheAPI(t *testing.T) {
	h := startLatchkey(t)
	provider := providertest.New(t, providertest.Options{
		ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value", Now: h.clock.Now,
		AccessTTL: time.Hour, RedirectURIs: []string{seedCallback},
	})
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
		strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL()))
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value", "redirect_uri": "`+seedCallback+`"}`)

	var (
		mu     sync.Mutex
		secret string
		got    []latchkey.Event
		errs   []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			errs = append(errs, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev latchkey.Event
		_ = json.Unmarshal(body, &ev)
		got = append(got, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	// Refused: not https, an unknown event type, an unknown app.
	h.expect(http.StatusUnprocessableEntity, "POST", "/api/v1/apps/capacity/webhooks", testAdminKey, "application/json",
		`{"url": "http://example.com/hook"}`)
	h.expect(http.StatusUnprocessableEntity, "POST", "/api/v1/apps/capacity/webhooks", testAdminKey, "application/json",
		`{"url": "`+recv.URL+`", "events": ["connection.exploded"]}`)
	h.expect(http.StatusNotFound, "POST", "/api/v1/apps/nosuch/webhooks", testAdminKey, "application/json", `{"url": "`+recv.URL+`"}`)

	var created struct {
		Webhook struct {
			ID     string   `json:"id"`
			URL    string   `json:"url"`
			Events []string `json:"events"`
		} `json:"webhook"`
		Secret string `json:"secret"`
	}
	body := h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/webhooks", testAdminKey, "application/json",
		`{"url": "`+recv.URL+`/hook", "events": ["connection.created", "connection.deleted"]}`)
	if err := json.Unmarshal(body, &created); err != nil || !strings.HasPrefix(created.Secret, "whsec_") || created.Webhook.URL != recv.URL+"/hook" {
		t.Fatalf("got %s, want the webhook and its whsec_ secret", body)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()
	list := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/webhooks", testAdminKey, "", "")
	if bytes.Contains(list, []byte(secret)) || !bytes.Contains(list, []byte(created.Webhook.ID)) {
		t.Fatalf("list: got %s, want the webhook without its secret", list)
	}

	h.connectUser(provider, "u-42")

	deliveries := "/api/v1/apps/capacity/webhooks/" + created.Webhook.ID + "/deliveries"
	var log struct {
		Deliveries []struct {
			EventType string `json:"event_type"`
			State     string `json:"state"`
			Attempts  []struct {
				StatusCode int `json:"status_code"`
			} `json:"attempts"`
		} `json:"deliveries"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := json.Unmarshal(h.expect(http.StatusOK, "GET", deliveries, testAdminKey, "", ""), &log); err != nil {
			t.Fatal(err)
		}
		if len(log.Deliveries) == 1 && log.Deliveries[0].State == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got deliveries %+v, want one delivered", log.Deliveries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := log.Deliveries[0]; d.EventType != "connection.created" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 204 {
		t.Fatalf("got delivery %+v, want connection.created delivered at the first attempt", d)
	}
	mu.Lock()
	if len(errs) > 0 || len(got) != 1 || got[0].Type != latchkey.EventConnectionCreated || got[0].User != "u-42" || got[0].Org != "acme" {
		t.Fatalf("receiver: got %+v (errors %v), want u-42's connection.created, signed", got, errs)
	}
	mu.Unlock()
	assertNotInDataDir(t, h.main.Config.DataDir, secret)

	h.expect(http.StatusNoContent, "DELETE", "/api/v1/apps/capacity/webhooks/"+created.Webhook.ID, testAdminKey, "", "")
	h.expect(http.StatusNotFound, "GET", deliveries, testAdminKey, "", "")
	h.expect(http.StatusNotFound, "DELETE", "/api/v1/apps/capacity/webhooks/"+created.Webhook.ID, testAdminKey, "", "")
}

// connectUser connects user of org acme to capacity's example config
// through a link, the landing page, the provider and the callback.
func (h *harness) connectUser(provider *providertest.Provider, user string) {
	h.tb.Helper()
	link := decode(h.tb, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/"+user+"/connections/example/link",
		testAdminKey, "application/json", `{}`))
	path := strings.TrimPrefix(link["url"].(string), h.main.URL)
	resp, _ := h.do("POST", path, "", "application/x-www-form-urlencoded", "")
	authURL, _ := url.Parse(resp.Header.Get("Location"))
	cb := provider.Authorize(h.tb, authURL.String())
	if resp, _ := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode >= 400 {
		h.tb.Fatalf("callback: got HTTP %d, want success", resp.StatusCode)
	}
}
