package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// newServer returns a Server on a fresh SQLite store, and an admin key.
func newServer(tb testing.TB) (*httpapi.Server, string) {
	tb.Helper()
	key, _ := secretbox.GenerateKey()
	ring, _ := secretbox.NewKeyring(key)
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: filepath.Join(tb.TempDir(), "l.db"), Keyring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	rec, full, err := apikey.Generate(latchkey.ScopeAdmin, "", "test", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateAPIKey(context.Background(), rec); err != nil {
		tb.Fatal(err)
	}
	engine := flow.New(flow.Config{Store: st, CallbackURL: "http://l.test/oauth/callback", ConnectURL: "http://l.test/connect"})
	srv, err := httpapi.New(httpapi.Config{Engine: engine, Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return srv, full
}

// TestErrorsAreJSONOnTheAPIAndPagesForPeople sends requests that fail in
// each way the one error handler knows, through ServeHTTP.
func TestErrorsAreJSONOnTheAPIAndPagesForPeople(t *testing.T) {
	srv, admin := newServer(t)
	for _, tc := range []struct {
		name, method, url, key, body string
		status                       int
		contains, notContains        []string
	}{
		{"no key", "GET", "/api/v1/apps", "", "", 401, []string{`"code":"unauthorized"`}, nil},
		{"a malformed key", "GET", "/api/v1/apps", "short", "", 401, []string{`"code":"unauthorized"`}, []string{"short"}},
		{"an unknown route", "GET", "/api/v1/nope", admin, "", 404, []string{`"code":"not_found"`}, nil},
		{"a wrong method", "POST", "/healthz", "", "", 405, []string{`"code":"method_not_allowed"`}, nil},
		{"a body over 1 MiB", "PUT", "/api/v1/apps/x", admin, strings.Repeat("a", 1<<20+10), 413, []string{`"code":"too_large"`}, nil},
		{"a document that is no object", "PUT", "/api/v1/apps/x", admin, "[1, 2]", 422, []string{`"code":"invalid"`, `"details"`}, nil},
		{"a null in an app document", "PUT", "/api/v1/apps/x", admin, `{"name": null}`, 422, []string{`"code":"invalid"`, `"field":"name"`, "must not be null"}, nil},
		{"a null in a request body", "POST", "/api/v1/apikeys", admin, `{"scope": "admin", "name": null}`, 422, []string{`"code":"invalid"`, `"field":"name"`, "must not be null"}, nil},
		{"a null body", "POST", "/api/v1/apikeys", admin, `null`, 422, []string{`"code":"invalid"`, "must not be null"}, nil},
		{"an unknown link, as a page", "GET", "/connect/nope", "", "", 404, []string{"<!doctype html>", "cannot be used"}, []string{`"code"`}},
		{"a callback without state, as a page", "GET", "/oauth/callback?code=abc", "", "", 400, []string{"<!doctype html>", "no state"}, []string{"abc"}},
		{"health", "GET", "/healthz", "", "", 200, []string{`"status":"ok"`}, nil},
		{"readiness", "GET", "/readyz", "", "", 200, []string{`"status":"ok"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := serveChecked(t, srv, req, []byte(tc.body))
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Fatalf("got HTTP %d %s, want %d", rec.Code, body, tc.status)
			}
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("got %s, want it to contain %s", body, s)
				}
			}
			for _, s := range tc.notContains {
				if strings.Contains(body, s) {
					t.Errorf("got %s, want it not to contain %s", body, s)
				}
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("got no request id")
			}
		})
	}
}

// TestTokenResponsesAreNotCached checks Cache-Control on a route that
// returns a secret value.
func TestTokenResponsesAreNotCached(t *testing.T) {
	srv, admin := newServer(t)
	put := httptest.NewRequest("PUT", "/api/v1/apps/a", strings.NewReader(`{"settings": [{"name": "k", "level": "org", "secret": true, "default": "d"}]}`))
	put.Header.Set("Authorization", "Bearer "+admin)
	srv.ServeHTTP(httptest.NewRecorder(), put)
	req := httptest.NewRequest("GET", "/api/v1/apps/a/orgs/o/users/u/settings/k", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("got HTTP %d with Cache-Control %q, want 200 with no-store", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

// TestANullSettingValueStandsForEmpty checks the one body where the API
// takes null: an org's setting values, where it clears a value.
func TestANullSettingValueStandsForEmpty(t *testing.T) {
	srv, admin := newServer(t)
	for _, step := range []struct{ method, url, body string }{
		{"PUT", "/api/v1/apps/a", `{"settings": [{"name": "team", "level": "org"}]}`},
		{"PUT", "/api/v1/apps/a/orgs/o/settings", `{"team": "blue"}`},
		{"PUT", "/api/v1/apps/a/orgs/o/settings", `{"team": null}`},
	} {
		req := httptest.NewRequest(step.method, step.url, strings.NewReader(step.body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		if rec := serveChecked(t, srv, req, []byte(step.body)); rec.Code >= 300 {
			t.Fatalf("%s %s %s: got HTTP %d %s, want success", step.method, step.url, step.body, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/api/v1/apps/a/orgs/o/settings", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	rec := serveChecked(t, srv, req, nil)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "blue") {
		t.Fatalf("got HTTP %d %s, want 200 with the value cleared", rec.Code, rec.Body)
	}
}
