package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// TestEnvAdminKeyLivesOnlyWhileTheVariableHoldsIt restarts Latchkey on one
// database with LATCHKEY_ADMIN_API_KEY set, unset, and set to another
// value: the variable's key answers only while the variable holds it, so a
// key published in a quickstart ends when the variable is dropped. A key an
// earlier version stored from the variable is revoked at the next start.
func TestEnvAdminKeyLivesOnlyWhileTheVariableHoldsIt(t *testing.T) {
	eachDatabase(t, func(t *testing.T, databaseURL string) {
		dataDir := t.TempDir()
		first, second := "quickstart-admin-key-0123", "another-admin-key-456789"
		var running *Main
		start := func(envKey string) string {
			t.Helper()
			var out bytes.Buffer
			running = &Main{WrapHandler: checked(t), Config: Config{Addr: "127.0.0.1:0", DataDir: dataDir, DatabaseURL: databaseURL, AdminAPIKey: envKey, RefreshInterval: -1},
				Logger: slog.New(slog.DiscardHandler), Stdout: &out}
			if err := running.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			return out.String()
		}
		stop := func() {
			t.Helper()
			if err := running.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		status := func(method, path, key string) int {
			t.Helper()
			h := &harness{tb: t, main: running}
			resp, _ := h.do(method, path, key, "", "")
			return resp.StatusCode
		}

		start(first)
		if got := status("GET", "/api/v1/apps", first); got != http.StatusOK {
			t.Fatalf("with the variable: got HTTP %d, want 200", got)
		}
		envID := mustKeyID(t, first)
		if got := status("DELETE", "/api/v1/apikeys/"+envID, first); got != http.StatusConflict {
			t.Fatalf("revoking the variable's key through the API: got HTTP %d, want 409 (it ends with the variable)", got)
		}
		stop()

		printed := start("")
		if got := status("GET", "/api/v1/apps", first); got != http.StatusUnauthorized {
			t.Fatalf("restarted without the variable: got HTTP %d for its old key, want 401", got)
		}
		generated := regexp.MustCompile(`lk_[A-Za-z0-9_-]+`).FindString(printed)
		if generated == "" || status("GET", "/api/v1/apps", generated) != http.StatusOK {
			t.Fatalf("restarted without the variable and with no other admin key: got %q printed, want a new admin key that works", printed)
		}
		stop()

		start(second)
		if got := status("GET", "/api/v1/apps", first); got != http.StatusUnauthorized {
			t.Fatalf("restarted with another value: got HTTP %d for the old one, want 401", got)
		}
		if got := status("GET", "/api/v1/apps", second); got != http.StatusOK {
			t.Fatalf("restarted with another value: got HTTP %d for it, want 200", got)
		}
		// An earlier version stored the variable's key; this start took it
		// as it was, and the next start without the variable ends it.
		legacy := "stored-by-an-earlier-version-0123"
		rec, err := apikey.FromSecret(legacy, latchkey.ScopeAdmin, apikey.EnvName, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := running.Store().CreateAPIKey(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		stop()

		start(second)
		if got := status("GET", "/api/v1/apps", second); got != http.StatusOK {
			t.Fatalf("restarted with the same value: got HTTP %d, want 200", got)
		}
		if got := status("GET", "/api/v1/apps", legacy); got != http.StatusUnauthorized {
			t.Fatalf("a key an earlier version stored from the variable: got HTTP %d, want 401", got)
		}
		stop()
	})
}

// TestEnvAdminKeyNameIsReserved refuses a stored key named after the
// variable, whose keys a start revokes.
func TestEnvAdminKeyNameIsReserved(t *testing.T) {
	h := startLatchkey(t)
	resp, body := h.do("POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "admin", "name": "LATCHKEY_ADMIN_API_KEY"}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"field":"name"`)) {
		t.Fatalf("a key named LATCHKEY_ADMIN_API_KEY: got HTTP %d %s, want 422 naming name", resp.StatusCode, body)
	}
}

// mustKeyID returns the id of an operator-chosen key.
func mustKeyID(tb testing.TB, key string) string {
	tb.Helper()
	id, _, ok := apikey.Parse(key)
	if !ok {
		tb.Fatalf("not a key: %q", key)
	}
	return id
}
