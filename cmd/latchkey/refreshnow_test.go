package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestRefreshNowRefreshesAndAnswersNoToken: the builder's "Refresh now"
// posts to the connection's refresh route, which asks the provider for a
// new token although the current one is far from expiry, and answers the
// connection's metadata without a token; presses while the provider is
// answering share one refresh.
func TestRefreshNowRefreshesAndAnswersNoToken(t *testing.T) {
	h := startLatchkey(t)
	provider := seedCapacity(t, h)
	h.connectUser(provider, "u1")
	conn := "/api/v1/apps/capacity/orgs/acme/users/u1/connections/example"
	var before struct {
		AccessToken string    `json:"access_token"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", conn, testAdminKey, "", ""), &before); err != nil || before.AccessToken == "" {
		t.Fatalf("reading the token: %v", err)
	}
	refreshes := provider.RefreshCalls()

	h.clock.Advance(time.Minute)
	body := h.expect(http.StatusOK, "POST", conn+"/refresh", testAdminKey, "", "")
	if got := provider.RefreshCalls() - refreshes; got != 1 {
		t.Fatalf("Refresh now: got %d refresh calls at the provider, want 1", got)
	}
	if strings.Contains(string(body), before.AccessToken) || strings.Contains(string(body), "access_token") {
		t.Fatalf("Refresh now answered a token: %s", body)
	}
	var after struct {
		Status      string    `json:"status"`
		ExpiresAt   time.Time `json:"expires_at"`
		RefreshedAt time.Time `json:"refreshed_at"`
	}
	if err := json.Unmarshal(body, &after); err != nil || after.Status != "active" || !after.RefreshedAt.Equal(h.clock.Now()) || !after.ExpiresAt.After(before.ExpiresAt) {
		t.Fatalf("Refresh now: got %s, want an active connection refreshed now with a later expiry than %v", body, before.ExpiresAt)
	}
	var now struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(h.expect(http.StatusOK, "GET", conn, testAdminKey, "", ""), &now)
	if now.AccessToken == before.AccessToken || !provider.ValidAccessToken(now.AccessToken) {
		t.Fatalf("after Refresh now the token read is the old one or not valid")
	}

	// Presses while the provider is still answering share its refresh.
	refreshes = provider.RefreshCalls()
	provider.FailNext(1, providertest.Failure{Kind: providertest.KindSlow, Delay: 300 * time.Millisecond, On: providertest.EndpointRefresh})
	done := make(chan int, 4)
	for range 4 {
		go func() {
			req, _ := http.NewRequest("POST", h.main.URL+conn+"/refresh", nil)
			req.Header.Set("Authorization", "Bearer "+testAdminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for range 4 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("a concurrent Refresh now: got HTTP %d, want 200", code)
		}
	}
	if got := provider.RefreshCalls() - refreshes; got != 1 {
		t.Errorf("four concurrent presses: got %d refresh calls, want 1", got)
	}

	h.expect(http.StatusNotFound, "POST", "/api/v1/apps/capacity/orgs/acme/users/nobody/connections/example/refresh", testAdminKey, "", "")
}
