package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestProviderRefusalAtCallbackIsNotA5xx sends users back through the
// callback while the provider refuses or fails the code exchange. A refusal
// (RFC 6749 §5.2 invalid_grant with HTTP 400, or an error with HTTP 200 as
// Slack's ok:false invalid_code) means Latchkey worked: the result page shows
// the provider's error with 400. A provider that fails, cannot be reached or
// answers something that is no token response keeps 502. Nothing is stored
// either way.
func TestProviderRefusalAtCallbackIsNotA5xx(t *testing.T) {
	h, provider := popupSetup(t)
	for _, tc := range []struct {
		name    string
		failure providertest.Failure
		status  int
		page    string
	}{
		{"invalid_grant", providertest.Failure{Kind: providertest.KindStatus, Status: 400,
			Body: `{"error":"invalid_grant","error_description":"The code has expired"}`}, 400, "invalid_grant"},
		{"ok false with HTTP 200", providertest.Failure{Kind: providertest.KindStatus, Status: 200,
			Body: `{"ok":false,"error":"invalid_code"}`}, 400, "invalid_code"},
		{"invalid_client with HTTP 401", providertest.Failure{Kind: providertest.KindStatus, Status: 401,
			Body: `{"error":"invalid_client"}`}, 400, "invalid_client"},
		{"server error", providertest.FailStatus(500), 502, "provider"},
		{"server_error code", providertest.Failure{Kind: providertest.KindStatus, Status: 503,
			Body: `{"error":"server_error"}`}, 502, "server_error"},
		{"rate limited", providertest.FailRateLimited(0), 502, "provider"},
		{"connection reset", providertest.FailReset(), 502, "could not be reached"},
		{"HTML with HTTP 200", providertest.FailHTML(200), 502, "not a token response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			authURL := startFlow(t, h, "u-1", `{}`)
			cb := provider.Authorize(t, authURL.String())
			provider.FailNext(1, tc.failure)
			resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
			if resp.StatusCode != tc.status || !strings.Contains(string(page), tc.page) {
				t.Fatalf("got HTTP %d, want %d with %q on the page:\n%s", resp.StatusCode, tc.status, tc.page, page)
			}
			h.expect(http.StatusNotFound, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example", testAdminKey, "", "")
		})
	}
}
