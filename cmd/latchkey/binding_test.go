package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// flowCookieName is the name of the cookie that binds the flow of state to
// the browser that pressed Allow, on an http public URL.
func flowCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "latchkey_flow_" + hex.EncodeToString(sum[:8])
}

// flowCookie returns the cookie named name among the Set-Cookie headers of
// resp, or fails the test.
func flowCookie(tb testing.TB, resp *http.Response, name string) *http.Cookie {
	tb.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no cookie %s in %q", name, resp.Header.Values("Set-Cookie"))
	return nil
}

// auditEvents returns the audit log's events of action.
func auditEvents(tb testing.TB, h *harness, action string) []map[string]any {
	tb.Helper()
	var out struct{ Events []map[string]any }
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/audit?action="+action, testAdminKey, "", ""), &out); err != nil {
		tb.Fatal(err)
	}
	return out.Events
}

// TestForwardedAuthorizationURLCannotConnectAnotherAccount is account
// injection (RFC 6749 §10.12, RFC 9700 §4.7): Mallory presses Allow on her
// own link, and instead of signing in she sends the provider's authorization
// URL to Victor. Victor signs in at the provider and approves; his browser
// comes back to Latchkey's callback without the cookie Mallory's browser got.
// The callback refuses with a page that says so, stores nothing, uses the
// state up (Mallory cannot finish it either), and the audit log records it.
// A forged cookie of the right name fares no better.
func TestForwardedAuthorizationURLCannotConnectAnotherAccount(t *testing.T) {
	h, provider := popupSetup(t)
	victor := h.otherBrowser()

	authURL := startFlow(t, h, "mallory", `{"return_to": "https://app.example.com/integrations/done"}`)
	cb := provider.Authorize(t, authURL.String()) // Victor approves at the provider
	resp, page := victor.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("callback from another browser: got HTTP %d, want 403:\n%s", resp.StatusCode, page)
	}
	if !strings.Contains(string(page), "started in another browser") || !strings.Contains(string(page), "nothing was connected") {
		t.Errorf("refusal page does not say why:\n%s", page)
	}
	if n := len(provider.RequestsTo("token")); n != 0 {
		t.Errorf("got %d code exchanges at the provider, want none", n)
	}
	h.expect(http.StatusNotFound, "GET", "/api/v1/apps/capacity/orgs/acme/users/mallory/connections/example", testAdminKey, "", "")

	// The state is used up: Mallory's own browser, which holds the cookie,
	// cannot finish the flow with Victor's code any more.
	resp, page = h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "already completed") {
		t.Fatalf("the refused state again: got HTTP %d, want 400 (already used):\n%s", resp.StatusCode, page)
	}
	h.expect(http.StatusNotFound, "GET", "/api/v1/apps/capacity/orgs/acme/users/mallory/connections/example", testAdminKey, "", "")

	// A cookie of the right name with another value is refused the same.
	authURL = startFlow(t, h, "mallory", `{}`)
	state := authURL.Query().Get("state")
	victor.jar.SetCookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(h.main.URL, "http://"), Path: "/oauth/callback"},
		[]*http.Cookie{{Name: flowCookieName(state), Value: "forged-nonce-value", Path: "/oauth/callback"}})
	cb = provider.Authorize(t, authURL.String())
	if resp, page := victor.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("callback with a forged cookie: got HTTP %d, want 403:\n%s", resp.StatusCode, page)
	}
	h.expect(http.StatusNotFound, "GET", "/api/v1/apps/capacity/orgs/acme/users/mallory/connections/example", testAdminKey, "", "")

	events := auditEvents(t, h, "callback.refused")
	if len(events) != 2 {
		t.Fatalf("got %d callback.refused audit events, want 2: %v", len(events), events)
	}
	for _, ev := range events {
		if ev["app"] != "capacity" || ev["org"] != "acme" || ev["user"] != "mallory" || ev["config"] != "example" || ev["actor"] != "browser" {
			t.Errorf("audit event: got %v, want the refused connection of mallory by actor browser", ev)
		}
	}
	if events[0]["detail"] == events[1]["detail"] {
		t.Errorf("audit details: got %q twice, want a forged cookie told apart from a missing one", events[0]["detail"])
	}

	// Mallory's flow, finished in her own browser, still works.
	authURL = startFlow(t, h, "mallory", `{}`)
	cb = provider.Authorize(t, authURL.String())
	h.expect(http.StatusOK, "GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/mallory/connections/example", testAdminKey, "", "")
}

// TestFlowsAtOnceInOneBrowserKeepTheirOwnCookies presses Allow on two links
// in one browser before coming back from either, and finishes them in the
// other order: each state has its cookie, so neither clobbers the other, and
// each callback clears only its own.
func TestFlowsAtOnceInOneBrowserKeepTheirOwnCookies(t *testing.T) {
	h, provider := popupSetup(t)
	first := startFlow(t, h, "u-1", `{}`)
	second := startFlow(t, h, "u-2", `{"popup": true}`)

	cb := provider.Authorize(t, second.String())
	resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second flow's callback: got HTTP %d, want 200:\n%s", resp.StatusCode, page)
	}
	if c := flowCookie(t, resp, flowCookieName(second.Query().Get("state"))); c.MaxAge >= 0 {
		t.Errorf("the callback's cookie: got Max-Age %d, want it cleared", c.MaxAge)
	}
	cb = provider.Authorize(t, first.String())
	if resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("first flow's callback after the second: got HTTP %d, want 200:\n%s", resp.StatusCode, page)
	}
	for _, user := range []string{"u-1", "u-2"} {
		h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/"+user+"/connections/example", testAdminKey, "", "")
	}
}

// TestAllowSetsABrowserCookieScopedToTheCallback reads the cookie the
// landing page's Allow sets: HttpOnly, SameSite=Lax, only for the callback's
// path, as long as the state lives; on an https public URL also Secure and
// __Secure- prefixed (__Host- would need Path=/), on the public URL's path.
func TestAllowSetsABrowserCookieScopedToTheCallback(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL, prefix, path string
		secure                        bool
	}{
		{"http", "", "", "/oauth/callback", false},
		{"https", "https://auth.example.com/latchkey", "__Secure-", "/latchkey/oauth/callback", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := popupSetup(t, func(c *Config) { c.PublicURL = tc.publicURL })
			link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example/link",
				testAdminKey, "application/json", `{}`))
			// Behind a proxy that strips the public URL's path.
			_, token, _ := strings.Cut(link["url"].(string), "/connect/")
			resp, _ := h.do("POST", "/connect/"+token, "", "application/x-www-form-urlencoded", "")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("allow: got HTTP %d, want 303", resp.StatusCode)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			c := flowCookie(t, resp, tc.prefix+flowCookieName(loc.Query().Get("state")))
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != tc.path || c.Secure != tc.secure ||
				c.MaxAge != 600 || c.Domain != "" || len(c.Value) < 40 {
				t.Errorf("got cookie %q, want HttpOnly; SameSite=Lax; Path=%s; Max-Age=600; Secure=%v, no Domain, a long nonce",
					c.String(), tc.path, tc.secure)
			}
			if strings.Contains(loc.String(), c.Value) {
				t.Error("the browser nonce is in the provider's authorization URL")
			}
		})
	}
}

// TestCancelUsesTheLinkUp cancels on a link's landing page: a later Allow on
// the same link, or another look at its landing page, is refused as for a
// used link, and nothing is connected.
func TestCancelUsesTheLinkUp(t *testing.T) {
	h, _ := popupSetup(t)
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example/link",
		testAdminKey, "application/json", `{}`))
	path := strings.TrimPrefix(link["url"].(string), h.main.URL)
	page := h.expect(http.StatusOK, "POST", path, "", "application/x-www-form-urlencoded", "cancel=1")
	if !strings.Contains(string(page), "You cancelled") {
		t.Fatalf("cancel page:\n%s", page)
	}
	if resp, page := h.do("POST", path, "", "application/x-www-form-urlencoded", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("allow after cancel: got HTTP %d to %q, want 404:\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	h.expect(http.StatusNotFound, "GET", path, "", "", "")
	h.expect(http.StatusNotFound, "POST", path, "", "application/x-www-form-urlencoded", "cancel=1")
	h.expect(http.StatusNotFound, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example", testAdminKey, "", "")
}

// TestHeadOnTheCallbackDoesNotSpendTheState: a link checker or a browser's
// prefetch that sends HEAD to the callback URL must not use the state up.
// HEAD is refused with 405 (Allow names GET only), and the person's own GET
// still connects.
func TestHeadOnTheCallbackDoesNotSpendTheState(t *testing.T) {
	h, provider := popupSetup(t)
	authURL := startFlow(t, h, "alice", `{}`)
	cb := provider.Authorize(t, authURL.String())

	resp, _ := h.do("HEAD", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD on the callback: got HTTP %d, want 405", resp.StatusCode)
	}
	if allow := resp.Header.Get("Allow"); strings.Contains(allow, "HEAD") || !strings.Contains(allow, "GET") {
		t.Errorf("HEAD on the callback: got Allow %q, want GET without HEAD", allow)
	}
	if n := len(provider.RequestsTo("token")); n != 0 {
		t.Errorf("HEAD on the callback: got %d code exchanges, want none", n)
	}

	resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode >= 400 {
		t.Fatalf("GET on the callback after a HEAD: got HTTP %d, want success:\n%s", resp.StatusCode, page)
	}
	h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/alice/connections/example", testAdminKey, "", "")
}
