package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// popupSetup declares the seed 002 app against a fake provider and installs
// it for org acme; options change Latchkey's Config.
func popupSetup(tb testing.TB, options ...func(*Config)) (*harness, *providertest.Provider) {
	tb.Helper()
	h := startLatchkey(tb, options...)
	provider := providertest.New(tb, providertest.Options{
		ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value", Now: h.clock.Now,
		AccessTTL: time.Hour, RedirectURIs: []string{seedCallback},
	})
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
		strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL()))
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value", "redirect_uri": "`+seedCallback+`"}`)
	return h, provider
}

// startFlow creates a link with body, allows access on its landing page and
// returns the provider's authorization URL.
func startFlow(tb testing.TB, h *harness, user, body string) *url.URL {
	tb.Helper()
	link := decode(tb, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/"+user+"/connections/example/link",
		testAdminKey, "application/json", body))
	path := strings.TrimPrefix(link["url"].(string), h.main.URL)
	resp, _ := h.do("POST", path, "", "application/x-www-form-urlencoded", "")
	if resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("allow: got HTTP %d, want 303", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

var nonceScript = regexp.MustCompile(`<script nonce="([A-Za-z0-9_-]{16,})">`)

// checkPopupPage asserts that page posts want (fragments of its message) to
// the UI's origin and the app's (that of its allowed_return_urls), and to no
// other, from one script whose nonce the response's CSP allows.
func checkPopupPage(tb testing.TB, h *harness, resp *http.Response, page []byte, want ...string) {
	tb.Helper()
	m := nonceScript.FindSubmatch(page)
	if m == nil || strings.Count(string(page), "<script") != 1 {
		tb.Fatalf("popup page: got %d scripts, want one with a nonce:\n%s", strings.Count(string(page), "<script"), page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-"+string(m[1])+"'") || !strings.Contains(csp, "default-src 'none'") {
		tb.Errorf("popup page: got CSP %q, want the default policy with script-src 'nonce-%s'", csp, m[1])
	}
	for _, w := range append([]string{`"type":"latchkey:connection"`, `"app":"capacity"`, `"config":"example"`,
		`origins = ["` + h.main.URL + `","https://app.example.com"]`, "postMessage(message, origins[i])", "window.close()"}, want...) {
		if !strings.Contains(string(page), w) {
			tb.Errorf("popup page lacks %s:\n%s", w, page)
		}
	}
}

// TestPopupResultPagePostsToOpener connects users through links made with
// popup: true: the result page posts the outcome (never a token) to the
// builder UI's origin from a nonce script and closes; a link without popup
// ends on a page with no script at all and the default CSP.
func TestPopupResultPagePostsToOpener(t *testing.T) {
	h, provider := popupSetup(t)

	// Success in a popup.
	authURL := startFlow(t, h, "u-1", `{"popup": true}`)
	cb := provider.Authorize(t, authURL.String())
	resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("popup callback: got HTTP %d, want 200 (no redirect in popup mode)", resp.StatusCode)
	}
	checkPopupPage(t, h, resp, page, `"status":"connected"`, "Connected to Example Provider")
	conn := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example", testAdminKey, "", ""))
	access, _ := conn["access_token"].(string)
	if access == "" || strings.Contains(string(page), access) {
		t.Fatalf("popup page: got a token in the page (or no connection: %v)", conn)
	}

	// The user refuses at the provider: the popup says so in words and
	// posts the error codes.
	authURL = startFlow(t, h, "u-2", `{"popup": true}`)
	q := url.Values{"state": {authURL.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"The user said no"}}
	resp, page = h.do("GET", "/oauth/callback?"+q.Encode(), "", "", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refused popup callback: got HTTP %d, want 400", resp.StatusCode)
	}
	checkPopupPage(t, h, resp, page, `"status":"error"`, `"error":"provider_error"`, `"provider_error":"access_denied"`,
		`"provider_error_description":"The user said no"`, `"message":"Example Provider did not grant access"`)

	// The user cancels on the landing page of a popup link.
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-4/connections/example/link",
		testAdminKey, "application/json", `{"popup": true}`))
	resp, page = h.do("POST", strings.TrimPrefix(link["url"].(string), h.main.URL), "", "application/x-www-form-urlencoded", "cancel=1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: got HTTP %d, want 200", resp.StatusCode)
	}
	checkPopupPage(t, h, resp, page, `"status":"error"`, `"error":"cancelled"`, "You cancelled")

	// A popup link with a return_to: a page with no opener (the connect
	// SDK's redirect mode opens the link in the tab itself) goes on to
	// return_to as a link without popup is redirected there.
	authURL = startFlow(t, h, "u-5", `{"popup": true, "return_to": "https://app.example.com/integrations/done"}`)
	cb = provider.Authorize(t, authURL.String())
	resp, page = h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("popup callback with return_to: got HTTP %d, want 200", resp.StatusCode)
	}
	checkPopupPage(t, h, resp, page, `"status":"connected"`,
		`back = "https://app.example.com/integrations/done?config=example\u0026connection=success"`)

	// Without popup: no script, no nonce, the default policy.
	authURL = startFlow(t, h, "u-3", `{}`)
	cb = provider.Authorize(t, authURL.String())
	resp, page = h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: got HTTP %d, want 200", resp.StatusCode)
	}
	if strings.Contains(string(page), "<script") || strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") {
		t.Errorf("page without popup: got a script or a script-src (CSP %q), want neither", resp.Header.Get("Content-Security-Policy"))
	}
	h.assertNoLeak(access, "s3cr3t-client-value")
}
