package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPIKeyListingShowsTheKeysLastUse: a new key was never used; a
// request it authenticates shows in the listing as its last use; another
// within the minute leaves it, and one more than a minute later moves it.
// The uses are written in the background, so the listing is read until it
// shows them.
func TestAPIKeyListingShowsTheKeysLastUse(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/alpha", testAdminKey, "application/json", `{"settings": [{"name": "region", "level": "org"}]}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/alpha/orgs/acme/settings", testAdminKey, "application/json", `{"region": "eu"}`)
	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "runtime", "app": "alpha", "name": "backend"}`))
	key := created["key"].(string)
	id := created["api_key"].(map[string]any)["id"].(string)
	if got := created["api_key"].(map[string]any)["last_used_at"]; got != nil {
		t.Fatalf("a new key's last_used_at: got %v, want null", got)
	}
	lastUse := func() any {
		t.Helper()
		list := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apikeys", testAdminKey, "", ""))
		for _, k := range list["api_keys"].([]any) {
			if k := k.(map[string]any); k["id"] == id {
				return k["last_used_at"]
			}
		}
		t.Fatalf("the listing has no key %s", id)
		return nil
	}
	waitForUse := func(want time.Time) {
		t.Helper()
		wantText := want.UTC().Format(time.RFC3339)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := lastUse()
			if got == wantText {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("last_used_at: got %v, want %s", got, wantText)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := lastUse(); got != nil {
		t.Fatalf("last_used_at before any use: got %v, want null", got)
	}

	first := h.clock.Now()
	h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/acme/settings", key, "", "")
	waitForUse(first)

	h.clock.Advance(30 * time.Second)
	h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/acme/settings", key, "", "")
	time.Sleep(200 * time.Millisecond) // what a write would take
	if got := lastUse(); got != first.UTC().Format(time.RFC3339) {
		t.Fatalf("last_used_at after a second use within the minute: got %v, want %s", got, first.UTC().Format(time.RFC3339))
	}

	h.clock.Advance(31 * time.Second)
	later := h.clock.Now()
	h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/acme/settings", key, "", "")
	waitForUse(later)

	// latchkey apikeys list says it too.
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"apikeys", "list", "--data-dir", h.main.Config.DataDir, "--env", "dev"}, &stdout, &stderr); err != nil {
		t.Fatalf("apikeys list: %v (%s)", err, stderr.String())
	}
	if want := id + "\truntime app alpha\tbackend\t"; !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "\tused "+later.UTC().Format(time.RFC3339)+"\n") {
		t.Errorf("apikeys list: got %q, want the key used at %s", stdout.String(), later.UTC().Format(time.RFC3339))
	}
}
