package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestInstallLinksAreAdminOnlyShortLivedSingleUseAndRevocable issues install
// links as an attacker holding a runtime key would try to, and as an admin:
// only the admin gets one; it lives an hour unless asked otherwise (a day
// at most); it installs once; a revoked one opens nothing; the listing names
// each link's state and never its token; and the audit log records each
// link's creation, use and revocation.
func TestInstallLinksAreAdminOnlyShortLivedSingleUseAndRevocable(t *testing.T) {
	eachDatabase(t, func(t *testing.T, databaseURL string) {
		h := startLatchkeyWith(t, databaseURL, nil)
		h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", strings.ReplaceAll(seedApp, "{{provider}}", "https://provider.example"))
		h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
			`{"client_id": "real-client", "client_secret": "real-secret-value", "redirect_uri": "`+seedCallback+`"}`)
		runtime := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json",
			`{"scope": "runtime", "app": "capacity", "name": "backend"}`))["key"].(string)

		// A runtime key reads the app's tokens; it cannot hand out the
		// right to rewrite the org's client credentials.
		if resp, body := h.do("POST", "/api/v1/apps/capacity/orgs/acme/install-link", runtime, "", ""); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("install link with a runtime key: got HTTP %d %s, want 403", resp.StatusCode, body)
		}
		h.expect(http.StatusForbidden, "GET", "/api/v1/apps/capacity/install-links", runtime, "", "")

		// Lifetimes: an hour by default, at most a day.
		if resp, body := h.do("POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "application/json", `{"expires_in": 604800}`); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"expires_in"`) {
			t.Fatalf("a week-long link: got HTTP %d %s, want 422 naming expires_in", resp.StatusCode, body)
		}
		first := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
		if exp, _ := time.Parse(time.RFC3339, first["expires_at"].(string)); !exp.Equal(h.clock.Now().Add(time.Hour)) {
			t.Fatalf("default lifetime: got expires_at %v, want an hour from now (%v)", first["expires_at"], h.clock.Now().Add(time.Hour))
		}
		second := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "application/json", `{"expires_in": 86400}`))
		firstPath, secondPath := pathOf(t, first["url"].(string)), pathOf(t, second["url"].(string))

		// The first link installs once: the org's values change, then the
		// link is used up and a replay is refused without a change.
		form := url.Values{"s_client_id": {"org-client"}, "s_client_secret": {"org-secret-value"}, "s_redirect_uri": {seedCallback}}
		h.expect(http.StatusOK, "GET", firstPath, "", "", "")
		h.expect(http.StatusOK, "POST", firstPath, "", "application/x-www-form-urlencoded", form.Encode())
		form.Set("s_client_id", "attacker-client")
		form.Set("s_redirect_uri", "https://attacker.example/callback")
		if resp, _ := h.do("POST", firstPath, "", "application/x-www-form-urlencoded", form.Encode()); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("replaying a used link: got HTTP %d, want 404", resp.StatusCode)
		}
		h.expect(http.StatusNotFound, "GET", firstPath, "", "", "")
		inst, err := h.main.Store().GetInstallation(t.Context(), "capacity", "acme")
		if err != nil || inst.Values["client_id"] != "org-client" || inst.Values["redirect_uri"] != seedCallback {
			t.Fatalf("after the replay: got %v (err %v), want client_id org-client and the seed callback", inst.Values["client_id"], err)
		}

		// The second, revoked before use, opens nothing.
		h.expect(http.StatusNoContent, "DELETE", "/api/v1/apps/capacity/install-links/"+second["id"].(string), testAdminKey, "", "")
		h.expect(http.StatusNotFound, "GET", secondPath, "", "", "")
		if resp, _ := h.do("POST", secondPath, "", "application/x-www-form-urlencoded", form.Encode()); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a revoked link: got HTTP %d, want 404", resp.StatusCode)
		}
		h.expect(http.StatusConflict, "DELETE", "/api/v1/apps/capacity/install-links/"+first["id"].(string), testAdminKey, "", "")
		h.expect(http.StatusNotFound, "DELETE", "/api/v1/apps/capacity/install-links/il_nosuch", testAdminKey, "", "")

		// A third expires after its hour.
		third := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
		h.clock.Advance(time.Hour)
		h.expect(http.StatusGone, "GET", pathOf(t, third["url"].(string)), "", "", "")

		// The listing: each link's state, never a token.
		body := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/install-links?org=acme", testAdminKey, "", "")
		var list struct {
			InstallLinks []struct{ ID, Org, State, CreatedBy string } `json:"install_links"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		states := map[string]string{}
		for _, l := range list.InstallLinks {
			states[l.ID] = l.State
		}
		if len(states) != 3 || states[first["id"].(string)] != "used" || states[second["id"].(string)] != "revoked" || states[third["id"].(string)] != "expired" {
			t.Fatalf("got install links %s, want the first used, the second revoked, the third expired", body)
		}
		for _, l := range []map[string]any{first, second, third} {
			token, _ := url.Parse(l["url"].(string))
			if strings.Contains(string(body), token.Query().Get("token")) {
				t.Fatalf("the listing shows a link's token: %s", body)
			}
		}

		// The audit log: created by the admin key, used through the link,
		// revoked by the admin key.
		audit := string(h.expect(http.StatusOK, "GET", "/api/v1/audit?app=capacity", testAdminKey, "", ""))
		for _, want := range []string{
			`"action":"install_link.create"`,
			`"actor":"install-link:` + first["id"].(string) + `","action":"install_link.use"`,
			`"actor":"install-link:` + first["id"].(string) + `","action":"installation.put"`,
			`"action":"install_link.revoke","app":"capacity","org":"acme","detail":"link ` + second["id"].(string) + `"`,
		} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit log lacks %s:\n%s", want, audit)
			}
		}
		h.assertNoLeak("org-secret-value", "real-secret-value")
	})
}

// pathOf returns the path and query of a URL the server handed out.
func pathOf(tb testing.TB, raw string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return u.RequestURI()
}

// TestInstallPromptShowsTheCallbackURLToRegister: the install prompt shows
// the app's callback URL, the redirect URI the org registers at the
// provider, read-only in the page itself (so it is there without script),
// with a copy button whose one inline script the page's policy allows by a
// nonce of that response only; the page after the save shows it too.
func TestInstallPromptShowsTheCallbackURLToRegister(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", strings.ReplaceAll(seedApp, "{{provider}}", "https://provider.example"))
	var app struct {
		CallbackURL string `json:"callback_url"`
	}
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""), &app); err != nil || app.CallbackURL == "" {
		t.Fatalf("the app's callback_url: got %q (%v), want one", app.CallbackURL, err)
	}
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
	path := pathOf(t, link["url"].(string))

	nonceOf := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		page := string(body)
		if !strings.Contains(page, `<input type="text" id="callback_url" value="`+app.CallbackURL+`" readonly`) {
			t.Errorf("%s: got no read-only field holding %s in %s", what, app.CallbackURL, page)
		}
		if !strings.Contains(page, `<label for="callback_url">Callback URL</label>`) {
			t.Errorf("%s: the callback URL's field has no label", what)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{20,})'$`).FindStringSubmatch(csp)
		if m == nil || strings.Count(csp, "script-src") != 1 || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("%s: got Content-Security-Policy %q, want the pages' policy with a script nonce", what, csp)
		}
		if n := strings.Count(page, "<script"); n != 1 || !strings.Contains(page, `<script nonce="`+m[1]+`">`) {
			t.Errorf("%s: got %d scripts, want the one carrying the nonce %s", what, n, m[1])
		}
	}
	resp, body := h.do("GET", path, "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the install prompt: got HTTP %d, want 200", resp.StatusCode)
	}
	nonceOf("the install prompt", resp, body)
	if resp2, _ := h.do("GET", path, "", "", ""); resp2.Header.Get("Content-Security-Policy") == resp.Header.Get("Content-Security-Policy") {
		t.Error("two install prompts got the same script nonce, want a fresh one each")
	}
	form := url.Values{"s_client_id": {"org-client"}, "s_client_secret": {"org-secret-value"}, "s_redirect_uri": {seedCallback}}
	resp, body = h.do("POST", path, "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save the install prompt: got HTTP %d %s, want 200", resp.StatusCode, body)
	}
	nonceOf("the installed page", resp, body)
}
