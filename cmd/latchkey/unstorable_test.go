package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// answer is a provider's token answer with HTTP status, as JSON or, when it
// does not start with '{', form-encoded (sent as text/plain).
func answer(status int, body string, on providertest.Endpoint) providertest.Failure {
	return providertest.Failure{Kind: providertest.KindStatus, Status: status, Body: body, On: on}
}

// TestProviderAnswerThatCannotBeStoredKeepsTheConnection has the provider
// answer tokens holding what no database column or JSON answer can keep: a
// NUL (JSON \u0000, form %00) or invalid UTF-8 (form %FF), in scope,
// token_type, the tokens or the error description. At the callback the user
// gets a clear provider error (502: the provider answered garbage) and the
// connection connected before is kept as it was; on a refresh the stored
// connection and its tokens are kept, the failure is recorded, and the next
// refresh works; a refusal with such a description still ends needs_reauth.
// On SQLite and PostgreSQL.
func TestProviderAnswerThatCannotBeStoredKeepsTheConnection(t *testing.T) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"SQLite", func(testing.TB) string { return "" }},
		{"PostgreSQL", func(tb testing.TB) string { return storetest.PostgresURL(tb) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			dbURL := db.url(t)
			h, provider := popupSetup(t, func(c *Config) { c.DatabaseURL = dbURL })
			const connPath = "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example"
			cb := provider.Authorize(t, startFlow(t, h, "u-1", `{}`).String())
			h.expect(http.StatusOK, "GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
			first := decode(t, h.expect(http.StatusOK, "GET", connPath, testAdminKey, "", ""))["access_token"].(string)

			// The user connects again; the provider's answer cannot be stored.
			for _, body := range []string{
				`{"access_token":"at-2","token_type":"bearer","scope":"read\u0000write","expires_in":3600}`,
				`{"access_token":"at-2","token_type":"bea\u0000rer","expires_in":3600}`,
				`{"access_token":"at\u00002","token_type":"bearer","expires_in":3600}`,
				`access_token=at-2&token_type=bearer&refresh_token=rt%00x`,
				`access_token=at-2&token_type=bearer&scope=read%FF`,
			} {
				cb := provider.Authorize(t, startFlow(t, h, "u-1", `{}`).String())
				provider.FailNext(1, answer(200, body, providertest.EndpointToken))
				resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(page), "cannot be stored") {
					t.Fatalf("answer %s: got HTTP %d, want 502 saying the answer cannot be stored:\n%s", body, resp.StatusCode, page)
				}
				if got := decode(t, h.expect(http.StatusOK, "GET", connPath, testAdminKey, "", ""))["access_token"]; got != first {
					t.Fatalf("answer %s: the connection connected before changed", body)
				}
			}

			// The token expires; the refresh's answer cannot be stored.
			h.clock.Advance(61 * time.Minute)
			provider.FailNext(1, answer(200, `{"access_token":"at-3","refresh_token":"r\u0000t","expires_in":3600}`, providertest.EndpointRefresh))
			resp, body := h.do("GET", connPath, testAdminKey, "", "")
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "cannot be stored") {
				t.Fatalf("refresh with an unstorable answer: got HTTP %d %s, want 502 saying so", resp.StatusCode, body)
			}
			list := string(h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/connections", testAdminKey, "", ""))
			if !strings.Contains(list, `"user":"u-1"`) || !strings.Contains(list, "cannot be stored") {
				t.Fatalf("after the failed refresh: got connections %s, want u-1 kept with the failure recorded", list)
			}
			h.clock.Advance(10 * time.Second) // past the backoff
			conn := decode(t, h.expect(http.StatusOK, "GET", connPath, testAdminKey, "", ""))
			if got, _ := conn["access_token"].(string); got == first || !provider.ValidAccessToken(got) || conn["status"] != "active" {
				t.Fatalf("the next refresh: got %v, want a fresh token", conn)
			}

			// A refusal whose description holds a NUL ends needs_reauth all the same.
			h.clock.Advance(61 * time.Minute)
			provider.FailNext(1, answer(400, `{"error":"invalid_grant","error_description":"revoked\u0000 `+"\xff"+`"}`, providertest.EndpointRefresh))
			h.expect(http.StatusBadGateway, "GET", connPath, testAdminKey, "", "")
			h.expect(http.StatusConflict, "GET", connPath, testAdminKey, "", "")
			list = string(h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/connections", testAdminKey, "", ""))
			if !strings.Contains(list, `"status":"needs_reauth"`) || !strings.Contains(list, "invalid_grant") {
				t.Fatalf("after a refusal: got connections %s, want u-1 needs_reauth with the provider's error", list)
			}
		})
	}
}
