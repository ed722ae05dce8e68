package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// setSelect chooses value in the select sel as a person would, so that the
// UI sees the change.
func setSelect(sel, value string) chromedp.Action {
	v, _ := json.Marshal(value)
	s, _ := json.Marshal(sel)
	return chromedp.Evaluate(`(() => { const el = document.querySelector(`+string(s)+`);
		if (![...el.options].some(o => o.value === `+string(v)+`)) throw new Error('no option ' + `+string(v)+` + ' in ' + el.id);
		el.value = `+string(v)+`; el.dispatchEvent(new Event('change', {bubbles: true})); })()`, nil)
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// setChecked ticks or unticks the checkbox sel as a click would.
func setChecked(sel string, on bool) chromedp.Action {
	s, _ := json.Marshal(sel)
	want, _ := json.Marshal(on)
	return chromedp.Evaluate(`(() => { const el = document.querySelector(`+string(s)+`); if (el.checked !== `+string(want)+`) el.click() })()`, nil)
}

// savedApp is the part of the app document the config editor scenario
// reads back through the API.
type savedApp struct {
	OAuthConfigs []map[string]any `json:"oauth_configs"`
	APIs         []struct {
		Name        string            `json:"name"`
		OAuthConfig string            `json:"oauth_config"`
		Method      string            `json:"method"`
		URL         string            `json:"url"`
		Query       map[string]string `json:"query"`
		Params      []struct {
			Name        string `json:"name"`
			Required    bool   `json:"required"`
			Description string `json:"description"`
		} `json:"params"`
	} `json:"apis"`
}

// TestBrowserConfigEditorInSections edits an OAuth config as issue 17's
// "Edit a config in sections" asks: the Basic section shows, Advanced is
// collapsed until opened or until the server finds fault with one of its
// fields; fixed choices are selects that save the engine's values (unset
// stays unset, durations as written); the logo is previewed as the landing
// page shows it; a declared API with two parameters is added, saved,
// reloaded and shown, and a parameter removed; a server error on
// apis[0].url focuses that input from the summary; and an error that names
// no field is shown in full.
func TestBrowserConfigEditorInSections(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL(),
		"  - {name: refresh_token, level: user, secret: true}\n",
		"  - {name: refresh_token, level: user, secret: true}\n  - {name: bot_token, level: user, secret: true}\n").Replace(browserApp) +
		"    refresh_margin: 5m\n    keep_alive_interval: 720h\n"
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	get := func() savedApp {
		t.Helper()
		var a savedApp
		if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))
	open := func(what string) {
		t.Helper()
		// (Unsaved edits would hold the reload at the browser's question.)
		if !step(t, ctx, what, openUI(h, "#/apps/capacity"), chromedp.Reload(), chromedp.WaitVisible("#c0-token_url", chromedp.ByQuery)) {
			t.FailNow()
		}
	}
	save := func(what string) {
		t.Helper()
		// The status names the revision saved, so a new save reads anew.
		var before string
		var saved bool
		browse(t, ctx, what+": the status before", chromedp.Text("#save-status", &before, chromedp.ByQuery))
		browse(t, ctx, what, chromedp.Click(`//button[text()="Save app"]`),
			chromedp.Poll(`(() => { const s = document.querySelector('#save-status').textContent; return s.startsWith('Saved') && s !== `+jsString(before)+` })()`,
				&saved, chromedp.WithPollingTimeout(10*time.Second)))
	}
	open("open the editor")

	// Basic shows; Advanced is collapsed, its fields out of sight.
	var advancedOpen, marginShown, basicShown bool
	browse(t, ctx, "the sections", chromedp.Evaluate(`document.querySelector('#c0-advanced').open`, &advancedOpen),
		chromedp.Evaluate(`document.querySelector('#c0-refresh_margin').checkVisibility()`, &marginShown),
		chromedp.Evaluate(`document.querySelector('#c0-scopes').checkVisibility() && document.querySelector('#c0-grant_type').checkVisibility()`, &basicShown))
	if advancedOpen || marginShown || !basicShown {
		t.Errorf("on opening: Advanced open %v, refresh margin shown %v, Basic shown %v; want Advanced collapsed and Basic shown", advancedOpen, marginShown, basicShown)
	}

	// The logo: the label's first letter without one, the image once its URL is typed.
	var letter string
	var loaded bool
	browse(t, ctx, "the default logo", chromedp.Text("#c0-logo-preview .logo-default", &letter, chromedp.ByQuery))
	if letter != "E" {
		t.Errorf("the logo preview without a logo: got %q, want E, the label's first letter", letter)
	}
	step(t, ctx, "type a logo URL", setInput("#c0-logo_url", h.main.URL+"/ui/favicon.svg"),
		chromedp.WaitVisible("#c0-logo-preview img.logo", chromedp.ByQuery),
		chromedp.Poll(`(() => { const i = document.querySelector('#c0-logo-preview img.logo'); return i && i.complete && i.naturalWidth > 0 })()`, &loaded,
			chromedp.WithPollingTimeout(5*time.Second)))

	// Selects save the engine's values; what was left unset stays unset.
	browse(t, ctx, "open Advanced", chromedp.Click(`#c0-advanced > summary`, chromedp.ByQuery), chromedp.WaitVisible("#c0-refresh_margin", chromedp.ByQuery))
	var grantOptions []string
	browse(t, ctx, "the grant types", chromedp.Evaluate(`[...document.querySelector('#c0-grant_type').options].map(o => o.value)`, &grantOptions))
	if strings.Join(grantOptions, ",") != ",authorization_code,client_credentials" {
		t.Errorf("grant type options: got %q, want unset, authorization_code and client_credentials", grantOptions)
	}
	browse(t, ctx, "choose", setSelect("#c0-request_encoding", "json"), setSelect("#c0-client_auth", "basic"),
		setSelect("#c0-scope_separator", ","), setSelect("#c0-pkce", "false"), setSelect("#c0-access_token_variable_name", "bot_token"),
		setSelect("#c0-grant_type", "authorization_code"))
	save("save the choices")
	cfg := get().OAuthConfigs[0]
	want := map[string]any{"request_encoding": "json", "client_auth": "basic", "scope_separator": ",", "pkce": false,
		"access_token_variable_name": "bot_token", "grant_type": "authorization_code", "refresh_margin": "5m", "keep_alive_interval": "720h",
		"logo_url": h.main.URL + "/ui/favicon.svg"}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("saved %s: got %v, want %v", k, cfg[k], v)
		}
	}
	for _, k := range []string{"refresh_token_grace_period", "expires_in_unit", "verify_api", "success_condition"} {
		if v, ok := cfg[k]; ok {
			t.Errorf("saved %s: got %v, want it left unset", k, v)
		}
	}
	browse(t, ctx, "back to the defaults", setSelect("#c0-grant_type", ""), setSelect("#c0-pkce", ""), setSelect("#c0-scope_separator", ""))
	save("save the defaults")
	cfg = get().OAuthConfigs[0]
	for _, k := range []string{"grant_type", "pkce", "scope_separator"} {
		if v, ok := cfg[k]; ok {
			t.Errorf("saved %s after choosing unset: got %v, want it out of the document", k, v)
		}
	}

	// Advanced, collapsed, opens itself on an error in one of its fields.
	open("open the editor again")
	var focused string
	browse(t, ctx, "the collapsed Advanced", chromedp.Evaluate(`document.querySelector('#c0-advanced').open`, &advancedOpen))
	if advancedOpen {
		t.Error("on reopening: Advanced is open, want it collapsed")
	}
	step(t, ctx, "save a bad refresh margin", setInput("#c0-refresh_margin", "5 minutes"), chromedp.Click(`//button[text()="Save app"]`),
		chromedp.WaitVisible("#save-summary", chromedp.ByQuery), chromedp.WaitVisible(`[data-field="c0-refresh_margin"] .field-error`, chromedp.ByQuery),
		chromedp.Click(`#save-summary a[href="#c0-refresh_margin"]`, chromedp.ByQuery), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "c0-refresh_margin" {
		t.Errorf("the summary's link to the refresh margin: got the focus on %q, want c0-refresh_margin", focused)
	}
	browse(t, ctx, "fix the margin", setInput("#c0-refresh_margin", "5m"), setInput("#c0-api_base_url", "https://api.example.com/v2"))
	save("save the margin")

	// A declared API with two parameters: added, saved, reloaded, shown.
	step(t, ctx, "add an API", chromedp.Click("#apis-add", chromedp.ByQuery), chromedp.WaitVisible("#a0-url", chromedp.ByQuery),
		setInput("#a0-name", "tickets"), setInput("#a0-description", "Lists the tickets"), setSelect("#a0-oauth_config", "example"),
		setSelect("#a0-method", "GET"), setInput("#a0-url", "/tickets.json"),
		chromedp.Click("#a0-add-param", chromedp.ByQuery), chromedp.Click("#a0-add-param", chromedp.ByQuery), chromedp.WaitVisible("#a0-p1-name", chromedp.ByQuery),
		setInput("#a0-p0-name", "status"), setChecked("#a0-p0-required", true), setInput("#a0-p0-description", "open or closed"),
		setInput("#a0-p1-name", "page"), setInput("#a0-query", `{"per_page": "50"}`))
	save("save the API")
	if a := get(); len(a.APIs) != 1 || a.APIs[0].Name != "tickets" || a.APIs[0].OAuthConfig != "example" || a.APIs[0].URL != "/tickets.json" ||
		a.APIs[0].Query["per_page"] != "50" || len(a.APIs[0].Params) != 2 || a.APIs[0].Params[0].Name != "status" || !a.APIs[0].Params[0].Required ||
		a.APIs[0].Params[0].Description != "open or closed" || a.APIs[0].Params[1].Name != "page" || a.APIs[0].Params[1].Required {
		t.Errorf("saved APIs: got %+v, want tickets with status (required) and page", a.APIs)
	}
	open("reload the editor")
	var p0, p1, url, query string
	var required bool
	browse(t, ctx, "the API after a reload", chromedp.WaitVisible("#a0-p1-name", chromedp.ByQuery), chromedp.Value("#a0-p0-name", &p0, chromedp.ByQuery),
		chromedp.Value("#a0-p1-name", &p1, chromedp.ByQuery), chromedp.Value("#a0-url", &url, chromedp.ByQuery), chromedp.Value("#a0-query", &query, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#a0-p0-required').checked`, &required))
	if p0 != "status" || p1 != "page" || url != "/tickets.json" || !strings.Contains(query, `"per_page": "50"`) || !required {
		t.Errorf("the API after a reload: got params %q (required %v) and %q, URL %q, query %q", p0, required, p1, url, query)
	}
	browse(t, ctx, "open Advanced for the page check", chromedp.Click(`#c0-advanced > summary`, chromedp.ByQuery), chromedp.WaitVisible("#c0-refresh_margin", chromedp.ByQuery))
	checkPage(t, ctx, "30-config-editor-sections")
	var wide bool
	browse(t, ctx, "Advanced and the APIs at 375 px", chromedp.EmulateViewport(375, 900), chromedp.Sleep(150*time.Millisecond),
		chromedp.Evaluate(`document.documentElement.scrollWidth > innerWidth`, &wide), chromedp.EmulateViewport(1280, 900))
	if wide {
		t.Error("the editor with Advanced open and an API at 375 px: the page scrolls sideways")
	}

	// The first parameter removed: the second takes its place.
	browse(t, ctx, "remove a parameter", chromedp.Click("#a0-p0-remove", chromedp.ByQuery), chromedp.WaitNotPresent("#a0-p1-name", chromedp.ByQuery),
		chromedp.Value("#a0-p0-name", &p0, chromedp.ByQuery))
	if p0 != "page" {
		t.Errorf("after removing the first parameter: the first reads %q, want page", p0)
	}
	save("save without the parameter")
	if a := get(); len(a.APIs) != 1 || len(a.APIs[0].Params) != 1 || a.APIs[0].Params[0].Name != "page" {
		t.Errorf("saved APIs after removing a parameter: got %+v, want page alone", a.APIs)
	}

	// An error on apis[0].url: the summary's link focuses that input.
	var summary string
	step(t, ctx, "save an API without its URL", setInput("#a0-url", ""), chromedp.Click(`//button[text()="Save app"]`),
		chromedp.WaitVisible("#save-summary", chromedp.ByQuery), chromedp.Text("#save-summary", &summary, chromedp.ByQuery))
	step(t, ctx, "follow the summary's link", chromedp.Click(`#save-summary a[href="#a0-url"]`, chromedp.ByQuery), chromedp.Evaluate(`document.activeElement.id`, &focused))
	if focused != "a0-url" || !strings.Contains(summary, "apis[0].url") {
		t.Errorf("the error on apis[0].url: got summary %q and the focus on %q, want the field named and a0-url focused", summary, focused)
	}
	browse(t, ctx, "put the URL back", setInput("#a0-url", "/tickets.json"))

	// An error that names no field (a document over 1 MiB) is shown in full.
	var status string
	step(t, ctx, "save a document too large", setInput("#app-description", strings.Repeat("x", 1100*1024)), chromedp.Click(`//button[text()="Save app"]`),
		chromedp.WaitVisible("#save-summary", chromedp.ByQuery), chromedp.Text("#save-summary", &summary, chromedp.ByQuery),
		chromedp.Text("#save-status", &status, chromedp.ByQuery))
	if !strings.Contains(summary, "larger than 1 MiB") || !strings.Contains(status, "Not saved") {
		t.Errorf("an error without a field: got summary %q and status %q, want the server's message and Not saved", summary, status)
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %q", e)
	}
}
