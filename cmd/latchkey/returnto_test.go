package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestReturnToCannotLeaveItsAllowedPath asks for links whose return_to
// starts with the allowed https://app.example.com/integrations but walks
// out of it with dot segments, plain or percent-encoded, or with what a
// browser or server reads as a '/': each is refused with a 422 naming
// return_to. A return_to whose dot segments stay inside is accepted, and
// the callback sends the browser to its resolved form.
func TestReturnToCannotLeaveItsAllowedPath(t *testing.T) {
	h, provider := popupSetup(t)
	for _, rt := range []string{
		"https://app.example.com/integrations/../../ui/",
		"https://app.example.com/integrations/..",
		"https://app.example.com/integrations/%2e%2e/ui/",
		"https://app.example.com/integrations/%2E%2E/%2e./ui/",
		"https://app.example.com/integrations/.%2e/admin",
		"https://app.example.com/integrations/..%2F..%2Fui",
		`https://app.example.com/integrations/..\..\ui`,
		"https://app.example.com/integrations/%5c..%5c..%5cui",
	} {
		body, _ := json.Marshal(map[string]string{"return_to": rt})
		resp, b := h.do("POST", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example/link", testAdminKey, "application/json", string(body))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"return_to"`) {
			t.Errorf("return_to %s: got HTTP %d %s, want 422 naming return_to", rt, resp.StatusCode, b)
		}
	}

	authURL := startFlow(t, h, "u-1", `{"return_to": "https://app.example.com/integrations/./x/%2E%2E/done?tab=1"}`)
	cb := provider.Authorize(t, authURL.String())
	resp, _ := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(loc, "https://app.example.com/integrations/done?") || !strings.Contains(loc, "tab=1") {
		t.Fatalf("callback: got HTTP %d to %q, want 303 to https://app.example.com/integrations/done?…tab=1", resp.StatusCode, loc)
	}
}
