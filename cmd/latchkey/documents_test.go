package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// providerApp is seed 002's document with its provider at a fixed address:
// these scenarios only save documents and values, and run no flow.
var providerApp = strings.ReplaceAll(seedApp, "{{provider}}", "https://provider.example")

// wantFieldError fails unless body is a JSON API error whose details name
// field, with a message holding every one of msgs.
func wantFieldError(tb testing.TB, what string, body []byte, field string, msgs ...string) {
	tb.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		tb.Fatalf("%s: got %s, want a JSON error", what, body)
	}
	for _, d := range e.Error.Details {
		if d.Field != field {
			continue
		}
		for _, m := range msgs {
			if !strings.Contains(d.Message, m) {
				tb.Fatalf("%s: got message %q for %s, want %q in it", what, d.Message, field, m)
			}
		}
		return
	}
	tb.Fatalf("%s: got %s, want an error naming %s", what, body, field)
}

// revision returns the stored revision of app.
func revision(tb testing.TB, h *harness, app string) float64 {
	tb.Helper()
	return decode(tb, h.expect(http.StatusOK, "GET", "/api/v1/apps/"+app, testAdminKey, "", ""))["revision"].(float64)
}

// TestSecretSettingsStayOutOfTheAuthorizationURL: a document that puts a
// secret into the link, or into a parameter of it, however it spells the
// reference, is refused when it is saved, naming the field, and the stored
// document is unchanged.
func TestSecretSettingsStayOutOfTheAuthorizationURL(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", providerApp)
	before := revision(t, h, "capacity")
	link := "&response_type=code&scope=read"
	for _, tc := range []struct{ name, from, to, field, secret string }{
		{"a secret setting in the link", link, link + "&x={{client_secret}}", "oauth_configs[0].link_url", "{{client_secret}}"},
		{"a secret through a pipeline", link, link + "&x={{ .client_secret | upper }}", "oauth_configs[0].link_url", "{{client_secret}}"},
		{"a token variable in the link", link, link + "&t={{$.access_token}}", "oauth_configs[0].link_url", "{{access_token}}"},
		{"the refresh token in the link", link, link + "&t={{refresh_token}}", "oauth_configs[0].link_url", "{{refresh_token}}"},
		{"a secret in an auth parameter", "    token_url:", "    auth_params: {hint: \"{{client_secret}}\"}\n    token_url:", "oauth_configs[0].auth_params.hint", "{{client_secret}}"},
		{"a secret as the client id", "    token_url:", "    client_id: \"{{client_secret}}\"\n    token_url:", "oauth_configs[0].client_id", "{{client_secret}}"},
		{"a secret fixed value in an auth parameter", "    token_url:", "    values: {api_key: fixed-key-value}\n    auth_params: {key: \"k-{{api_key}}\"}\n    token_url:", "oauth_configs[0].auth_params.key", "{{api_key}}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(providerApp, tc.from) {
				t.Fatalf("the document lacks %q", tc.from)
			}
			doc := strings.Replace(providerApp, tc.from, tc.to, 1)
			resp, body := h.do("PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("got HTTP %d %s, want 422", resp.StatusCode, body)
			}
			wantFieldError(t, tc.name, body, tc.field, tc.secret, "authorization URL")
			if got := revision(t, h, "capacity"); got != before {
				t.Fatalf("got revision %v after a refused save, want %v", got, before)
			}
		})
	}
	// A value that is no secret may still go into the link.
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
		strings.Replace(providerApp, "    token_url:", "    auth_params: {audience: \"{{client_id}}\"}\n    token_url:", 1))
}

// TestDurationsOfADocumentAreBounded: every duration of an OAuth config is
// refused outside its bounds, which the 422 names; zero and values within
// them are accepted.
func TestDurationsOfADocumentAreBounded(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", providerApp)
	with := func(field, value string) string {
		return strings.Replace(providerApp, "    refresh_token_variable_name: refresh_token\n",
			"    refresh_token_variable_name: refresh_token\n    "+field+": "+value+"\n", 1)
	}
	for _, tc := range []struct{ field, value, bounds string }{
		{"keep_alive_interval", "1ns", "between 1h and 8760h"},
		{"keep_alive_interval", "59m", "between 1h and 8760h"},
		{"keep_alive_interval", "9000h", "between 1h and 8760h"},
		{"keep_alive_interval", "-1h", "between 1h and 8760h"},
		{"refresh_margin", "1ns", "between 1s and 24h"},
		{"refresh_margin", "25h", "between 1s and 24h"},
		{"refresh_token_grace_period", "1ns", "between 1s and 24h"},
		{"refresh_token_grace_period", "48h", "between 1s and 24h"},
	} {
		resp, body := h.do("PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", with(tc.field, tc.value))
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %s: got HTTP %d %s, want 422", tc.field, tc.value, resp.StatusCode, body)
		}
		wantFieldError(t, tc.field+": "+tc.value, body, "oauth_configs[0]."+tc.field, tc.bounds)
	}
	for _, ok := range [][2]string{{"keep_alive_interval", "720h"}, {"keep_alive_interval", "0s"}, {"refresh_margin", "10m"},
		{"refresh_token_grace_period", "1m"}} {
		h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", with(ok[0], ok[1]))
	}
}

// TestServerFlagsAreBounded: a refresh interval or margin out of bounds,
// or an environment variable that is no duration, stops the server at
// start with an error naming the flag.
func TestServerFlagsAreBounded(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{RefreshInterval: time.Nanosecond}, "--refresh-interval"},
		{Config{RefreshInterval: 2 * time.Hour}, "--refresh-interval"},
		{Config{RefreshMargin: time.Nanosecond}, "--refresh-margin"},
		{Config{RefreshMargin: 48 * time.Hour}, "--refresh-margin"},
		{Config{RefreshMargin: -time.Minute}, "--refresh-margin"},
	} {
		tc.cfg.Addr, tc.cfg.DataDir = "127.0.0.1:0", t.TempDir()
		m := &Main{WrapHandler: checked(t), Config: tc.cfg, Stdout: io.Discard}
		err := m.Run(context.Background())
		if err == nil {
			m.Close()
			t.Fatalf("%+v: Run succeeded, want an error naming %s", tc.cfg, tc.want)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "between") {
			t.Fatalf("got %v, want an error naming %s and its bounds", err, tc.want)
		}
	}
	t.Setenv("LATCHKEY_REFRESH_INTERVAL", "30 seconds")
	err := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LATCHKEY_REFRESH_INTERVAL") {
		t.Fatalf("got %v, want an error naming LATCHKEY_REFRESH_INTERVAL", err)
	}
}

// TestBodyLimitIsOneMiB: a body of exactly 1 MiB is read; one byte more is
// a 413 with the JSON error, with or without a Content-Length.
func TestBodyLimitIsOneMiB(t *testing.T) {
	h := startLatchkey(t)
	pad := func(n int) string { return providerApp + strings.Repeat(" ", n-len(providerApp)) }
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", pad(1<<20))
	for _, chunked := range []bool{false, true} {
		body := io.Reader(strings.NewReader(pad(1<<20 + 1)))
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req, _ := http.NewRequest("PUT", h.main.URL+"/api/v1/apps/capacity", body)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e apiError
		if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(b, &e) != nil || e.Error.Code != "too_large" ||
			!strings.Contains(e.Error.Message, "1 MiB") {
			t.Fatalf("1 MiB + 1 (chunked %v): got HTTP %d %s, want 413 too_large naming 1 MiB", chunked, resp.StatusCode, b)
		}
	}
}

// TestRemovedSettingDoesNotBreakPatch: an org's value of a setting the
// document no longer declares is ignored by PATCH, left out of listings and
// dropped by the next write.
func TestRemovedSettingDoesNotBreakPatch(t *testing.T) {
	h := startLatchkey(t)
	withNote := strings.Replace(providerApp, "  - {name: redirect_uri, level: org, required: true}\n",
		"  - {name: redirect_uri, level: org, required: true}\n  - {name: note, level: org}\n", 1)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", withNote)
	settings := "/api/v1/apps/capacity/orgs/acme/settings"
	h.expect(http.StatusOK, "PUT", settings, testAdminKey, "application/json",
		`{"client_id": "cid", "client_secret": "the-org-secret", "redirect_uri": "`+seedCallback+`", "note": "remember me"}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", providerApp)

	got := decode(t, h.expect(http.StatusOK, "GET", settings, testAdminKey, "", ""))["values"].(map[string]any)
	if _, ok := got["note"]; ok {
		t.Errorf("GET: got values %v, want no note", got)
	}
	got = decode(t, h.expect(http.StatusOK, "PATCH", settings, testAdminKey, "application/json", `{"client_id": "cid2"}`))["values"].(map[string]any)
	if _, ok := got["note"]; ok || got["client_id"] != "cid2" {
		t.Errorf("PATCH: got values %v, want client_id cid2 and no note", got)
	}
	inst, err := h.main.Store().GetInstallation(t.Context(), "capacity", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inst.Values["note"]; ok || inst.Values["client_secret"] != "the-org-secret" {
		t.Errorf("stored: got note kept=%v, secret kept=%v; want the note dropped and the secret kept",
			ok, inst.Values["client_secret"] == "the-org-secret")
	}
	// Naming the removed setting is still an error of the request.
	_, body := h.do("PATCH", settings, testAdminKey, "application/json", `{"note": "again"}`)
	wantFieldError(t, "PATCH naming a removed setting", body, "note", "is not a setting")
}

// TestRedactionPlaceholderIsNeverAValue: a redacted listing sent back keeps
// the stored secrets, but the placeholder where no value is stored (a
// redacted export imported as a new app, an org's settings, the install
// prompt) is refused, naming the field, and nothing is stored.
func TestRedactionPlaceholderIsNeverAValue(t *testing.T) {
	h := startLatchkey(t)
	fixed := strings.Replace(providerApp, "    token_url:", "    values: {client_secret: the-fixed-secret}\n    token_url:", 1)
	fixed = strings.Replace(fixed, "{name: client_secret, level: org, secret: true, required: true}", "{name: client_secret, level: org, secret: true}", 1)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", fixed)
	listed := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", "")
	if strings.Contains(string(listed), "the-fixed-secret") || !strings.Contains(string(listed), `"client_secret":"********"`) {
		t.Fatalf("GET: got %s, want the fixed secret redacted", listed)
	}

	// Sent back to the same app, the placeholder keeps the stored value.
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/json", string(listed))
	app, err := h.main.Store().GetApp(t.Context(), "capacity")
	if err != nil || app.OAuthConfigs[0].Values["client_secret"] != "the-fixed-secret" {
		t.Fatalf("after sending the listing back: the stored secret was not kept (err %v)", err)
	}

	// Imported as another app, or under a renamed config, there is no value
	// to keep: refused.
	for _, tc := range []struct{ name, doc string }{
		{"another app", strings.Replace(string(listed), `"name":"capacity"`, `"name":"copy"`, 1)},
		{"a renamed config", strings.Replace(strings.Replace(string(listed), `"name":"capacity"`, `"name":"copy"`, 1), `"name":"example"`, `"name":"renamed"`, 1)},
	} {
		resp, body := h.do("PUT", "/api/v1/apps/copy", testAdminKey, "application/json", tc.doc)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s: got HTTP %d %s, want 422", tc.name, resp.StatusCode, body)
		}
		wantFieldError(t, tc.name, body, "oauth_configs[0].values.client_secret", "redaction placeholder")
	}
	if resp, _ := h.do("GET", "/api/v1/apps/copy", testAdminKey, "", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the refused import was stored: GET answered %d", resp.StatusCode)
	}
	resp, body := h.do("PUT", "/api/v1/apps/copy", testAdminKey, "application/yaml",
		strings.Replace(strings.Replace(providerApp, "name: capacity", "name: copy", 1), "{name: client_id, level: org, required: true, description: Client id issued by the provider}",
			"{name: client_id, level: org, required: true, default: \"********\"}", 1))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a placeholder default: got HTTP %d %s, want 422", resp.StatusCode, body)
	}
	wantFieldError(t, "a placeholder default", body, "settings[0].default", "redaction placeholder")

	// A secret setting's default is redacted too, and kept when sent back.
	withDefault := strings.Replace(fixed, "{name: client_secret, level: org, secret: true}", "{name: client_secret, level: org, secret: true, default: the-default-secret}", 1)
	listed = h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", withDefault)
	if strings.Contains(string(listed), "the-default-secret") {
		t.Fatalf("PUT: got %s, want the secret default redacted", listed)
	}
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/json", string(listed))
	if app, _ := h.main.Store().GetApp(t.Context(), "capacity"); app.Settings[1].Default != "the-default-secret" {
		t.Fatal("after sending the listing back: the secret default was not kept")
	}
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", fixed)

	// An org's settings: the placeholder with nothing stored, and the
	// install prompt's form.
	settings := "/api/v1/apps/capacity/orgs/acme/settings"
	_, body = h.do("PUT", settings, testAdminKey, "application/json",
		`{"client_id": "cid", "client_secret": "********", "redirect_uri": "`+seedCallback+`"}`)
	wantFieldError(t, "org settings", body, "client_secret", "redaction marker")
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
	u, _ := url.Parse(link["url"].(string))
	form := url.Values{"s_client_id": {"cid"}, "s_client_secret": {latchkey.Redacted}, "s_redirect_uri": {seedCallback}}
	resp, page := h.do("POST", u.RequestURI(), "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(page), "redaction placeholder") {
		t.Fatalf("install prompt: got HTTP %d %s, want 422 naming the placeholder", resp.StatusCode, page)
	}
	if _, err := h.main.Store().GetInstallation(t.Context(), "capacity", "acme"); err == nil {
		t.Fatal("a refused installation was stored")
	}
}

// TestBrowserExportLeavesSecretsOut: the builder UI's YAML export of an app
// whose config fixes a secret, and whose secret setting has a default,
// leaves the values (and their placeholder) out and says so in a comment;
// the export is a document the server takes.
func TestBrowserExportLeavesSecretsOut(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	fixed := strings.Replace(providerApp, "    token_url:", "    values: {client_secret: the-fixed-secret}\n    token_url:", 1)
	fixed = strings.Replace(fixed, "{name: client_secret, level: org, secret: true, required: true}", "{name: client_secret, level: org, secret: true, default: the-default-secret}", 1)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", fixed)

	var exported string
	var hooked bool
	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))
	browse(t, ctx, "open the app", openUI(h, "#/apps/capacity"),
		chromedp.WaitVisible(`//button[text()="Export YAML"]`))
	browse(t, ctx, "hook the download",
		// Keep the blob the export would download, and download nothing.
		chromedp.Evaluate(`window.__exported = new Promise(done => { URL.createObjectURL = b => { b.text().then(done); return 'blob:kept' } }); HTMLAnchorElement.prototype.click = function () {}; true`, &hooked))
	browse(t, ctx, "click export", chromedp.Click(`//button[text()="Export YAML"]`),
		chromedp.Evaluate(`window.__exported`, &exported, awaitPromise))
	if strings.Contains(exported, "the-fixed-secret") || strings.Contains(exported, "the-default-secret") || strings.Contains(exported, latchkey.Redacted) {
		t.Fatalf("the export holds a secret or its placeholder:\n%s", exported)
	}
	if !strings.HasPrefix(exported, "# Secret values are left out of this export: the default of client_secret, client_secret (config example).") {
		t.Fatalf("the export does not say which secret it leaves out:\n%s", exported)
	}
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/copy", testAdminKey, "application/yaml",
		strings.Replace(exported, "name: capacity", "name: copy", 1))
}
