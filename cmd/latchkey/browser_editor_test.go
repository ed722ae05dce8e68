package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// inView is a script that tells whether the element sel is inside the
// window (its top below the window's top, its bottom above the window's
// bottom).
func inView(sel string) string {
	s, _ := json.Marshal(sel)
	return `(() => { const r = document.querySelector(` + string(s) + `).getBoundingClientRect(); return r.top >= -1 && r.bottom <= innerHeight + 1 })()`
}

// step runs browser actions that wait for what a fix shows, for at most
// 15 seconds, and reports a failure without stopping the test, so that
// each bug's check fails on its own.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) bool {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Run(wctx, actions...); err != nil {
		t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}

// TestBrowserEditorKeepsWhatIsTypedAndShowsEveryError drives the app editor
// as an admin would, for the bugs issue 17 saw: spaces typed in scopes and
// return URLs stay; a save's errors are listed in a summary that takes the
// focus even when the save was pressed at the bottom of the page, with the
// save bar (and its outcome) always in view; a mistaken OAuth config can be
// removed; leaving with unsaved edits asks; "Create app" does not replace
// an app of the same name; durations read as written.
func TestBrowserEditorKeepsWhatIsTypedAndShowsEveryError(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL()).Replace(browserApp) + "    refresh_margin: 5m\n"
	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))
	var margin string
	browse(t, ctx, "create the app", setInput("#app-doc", doc), chromedp.Click(`//button[text()="Create app"]`),
		chromedp.WaitVisible("#c0-token_url", chromedp.ByQuery), chromedp.Value("#c0-refresh_margin", &margin, chromedp.ByQuery))
	if margin != "5m" {
		t.Errorf("the refresh margin reads %q in the editor, want 5m as written", margin)
	}

	// Spaces typed key by key stay in the field and separate the values.
	var scopes, returns string
	browse(t, ctx, "type scopes and return URLs", setInput("#c0-scopes", ""), chromedp.SendKeys("#c0-scopes", "openid email", chromedp.ByQuery),
		setInput("#app-returns", ""), chromedp.SendKeys("#app-returns", "https://app.example.com/a https://app.example.com/b", chromedp.ByQuery),
		chromedp.Value("#c0-scopes", &scopes, chromedp.ByQuery), chromedp.Value("#app-returns", &returns, chromedp.ByQuery))
	if scopes != "openid email" || returns != "https://app.example.com/a https://app.example.com/b" {
		t.Errorf("typed values: got scopes %q and return URLs %q, want them as typed, spaces included", scopes, returns)
	}

	// A bad duration, saved from the bottom of the page: the summary at the
	// top takes the focus and names the field, which shows it too.
	var focused, summary, beside string
	var summaryInView, barInView bool
	step(t, ctx, "save a bad duration from the bottom", setInput("#c0-refresh_margin", "5 minutes"),
		chromedp.Evaluate(`window.scrollTo(0, document.body.scrollHeight)`, nil),
		chromedp.Click(`//button[text()="Save app"]`), chromedp.WaitVisible("#save-summary", chromedp.ByQuery), chromedp.Sleep(200*time.Millisecond),
		chromedp.Evaluate(`document.activeElement.id`, &focused), chromedp.Text("#save-summary", &summary, chromedp.ByQuery),
		chromedp.Evaluate(inView("#save-summary"), &summaryInView), chromedp.Evaluate(inView("#save-status"), &barInView),
		chromedp.Text(`[data-field="c0-refresh_margin"] .field-error`, &beside, chromedp.ByQuery))
	if focused != "save-summary" || !summaryInView {
		var dbg string
		chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify([document.querySelector('#save-summary').getBoundingClientRect(), innerHeight, scrollY])`, &dbg))
		t.Errorf("after a failed save: got the focus on %q (summary in view: %v %s), want the error summary focused and in view", focused, summaryInView, dbg)
	}
	if !strings.Contains(summary, "oauth_configs[0].refresh_margin") || !strings.Contains(summary, "duration") || beside == "" {
		t.Errorf("after a failed save: got summary %q and %q beside the field, want the refresh margin named in both", summary, beside)
	}
	if !barInView {
		t.Error("after a failed save: the save bar is out of view")
	}
	checkPage(t, ctx, "20-editor-error-summary")

	var status string
	step(t, ctx, "save from the bottom, see it saved", setInput("#c0-refresh_margin", "5m"), chromedp.Evaluate(`window.scrollTo(0, document.body.scrollHeight / 2)`, nil),
		chromedp.Click(`//button[text()="Save app"]`), chromedp.WaitVisible(`//span[@id="save-status"][starts-with(., "Saved")]`),
		chromedp.Text("#save-status", &status, chromedp.ByQuery), chromedp.Evaluate(inView("#save-status"), &barInView))
	if !barInView {
		t.Errorf("after a save: the save bar saying %q is out of view", status)
	}
	// (With the old editor the success message sat at the top; saving again
	// from there lets the rest of the scenario go on.)
	browse(t, ctx, "save", setInput("#c0-refresh_margin", "5m"), chromedp.Click(`//button[text()="Save app"]`), chromedp.Sleep(300*time.Millisecond))
	var saved struct {
		AllowedReturnURLs []string `json:"allowed_return_urls"`
		OAuthConfigs      []struct {
			Scopes        []string `json:"scopes"`
			RefreshMargin string   `json:"refresh_margin"`
		} `json:"oauth_configs"`
	}
	json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""), &saved)
	if len(saved.OAuthConfigs) != 1 || strings.Join(saved.OAuthConfigs[0].Scopes, ",") != "openid,email" || len(saved.AllowedReturnURLs) != 2 {
		t.Errorf("saved document: got %+v, want scopes openid and email and two return URLs", saved)
	}

	// An OAuth config added by mistake is removed before saving.
	browse(t, ctx, "add a config", chromedp.Click(`//button[text()="Add an OAuth config"]`), chromedp.WaitVisible("#c1-name", chromedp.ByQuery))
	step(t, ctx, "remove the added config", chromedp.Click("#c1-remove", chromedp.ByQuery), chromedp.WaitNotPresent("#c1-name", chromedp.ByQuery))

	// Leaving with an unsaved edit asks; saying no stays.
	var hash string
	var asked bool
	// (The guard is set once the edit is rendered: the save bar says so.)
	browse(t, ctx, "leave with an unsaved edit", setInput("#app-label", "Capacity, renamed"),
		chromedp.WaitVisible(`//span[@id="save-status"][contains(., "Unsaved changes")]`),
		chromedp.Evaluate(`window.__asked = false; window.confirm = () => { window.__asked = true; return false }`, nil),
		chromedp.Click(`//nav//a[text()="API keys"]`), chromedp.Sleep(200*time.Millisecond),
		chromedp.Evaluate(`window.__asked`, &asked), chromedp.Evaluate(`location.hash`, &hash))
	if !asked || hash != "#/apps/capacity" {
		t.Errorf("leaving with an unsaved edit: asked %v, now at %q, want a question and to stay at #/apps/capacity", asked, hash)
	}
	browse(t, ctx, "leave, saying yes", chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`//nav//a[text()="Apps"]`), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))

	// Create app refuses a name in use, and the app stays as it was.
	var createErr string
	browse(t, ctx, "create a second capacity", setInput("#app-doc", "name: capacity\nlabel: Someone else's\n"),
		chromedp.Click(`//button[text()="Create app"]`), chromedp.WaitVisible(`//section//div[@role="alert"]`),
		chromedp.Text(`//section//div[@role="alert"]`, &createErr))
	if !strings.Contains(createErr, "exists already") || !strings.Contains(createErr, "name") {
		t.Errorf("creating a taken name: got %q, want a refusal naming the field name", createErr)
	}
	if app := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""); !strings.Contains(string(app), `"label":"Capacity"`) {
		t.Fatalf("after a refused create the app is %s, want the label Capacity kept", app)
	}
}

// TestBrowserConnectionsAndSession: "Refresh now" really refreshes through
// the refresh route and shows when, without reading the token; an org that
// connects without installing (its required settings have defaults) is on
// the org page as on Connections; at 375 px nothing is wider than the
// window and values do not break into strips; the UI has a favicon; an
// expired session goes back to the sign-in screen.
func TestBrowserConnectionsAndSession(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL(),
		"required: true, description: Client id", "required: true, default: capacity-client, description: Client id",
		"required: true, description: Client secret", "required: true, default: s3cr3t-client-value, description: Client secret").Replace(browserApp)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/beta/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value"}`)
	h.connectUser(provider, "u1") // of org acme, which never installed
	h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "runtime", "app": "capacity", "name": "ci"}`)

	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))

	// Refresh now asks the provider, though the token is fresh.
	refreshes := provider.RefreshCalls()
	h.clock.Advance(time.Minute)
	var msg string
	browse(t, ctx, "open the connections", openUI(h, "#/apps/capacity/connections"), chromedp.WaitVisible(".status-active", chromedp.ByQuery),
		chromedp.Click(`//a[contains(., "acme / u1")]`), chromedp.WaitVisible("#conn-detail", chromedp.ByQuery))
	step(t, ctx, "refresh now", chromedp.Click(`//button[text()="Refresh now"]`), chromedp.WaitVisible(`//p[@role="status"][contains(., "Refreshed")]`),
		chromedp.Text(`//p[@role="status"][contains(., "Refreshed")]`, &msg))
	if got := provider.RefreshCalls() - refreshes; got != 1 {
		t.Errorf("Refresh now: got %d refreshes at the provider, want 1 (message %q)", got, msg)
	}
	audit := string(h.expect(http.StatusOK, "GET", "/api/v1/audit?action=token.read", testAdminKey, "", ""))
	if strings.Contains(audit, testAdminEmail) {
		t.Errorf("Refresh now read the token into the browser: %s", audit)
	}

	// At 375 px: no sideways scroll, ids and values readable, the link kept inside.
	narrow := func(name, url, ready string) {
		t.Helper()
		var wide bool
		var strips []string
		browse(t, ctx, name, chromedp.EmulateViewport(375, 900), chromedp.Navigate(url), chromedp.WaitVisible(ready, chromedp.ByQuery), chromedp.Sleep(150*time.Millisecond),
			chromedp.Evaluate(`document.documentElement.scrollWidth > innerWidth`, &wide),
			// A strip: a select narrower than its words, or a short value broken over more than two lines.
			chromedp.Evaluate(`[...document.querySelectorAll('main code, main select')].filter(e => e.offsetParent &&
				(e.tagName === 'SELECT' ? e.getBoundingClientRect().width < 48 : e.getClientRects().length > 2)).map(e => e.outerHTML.slice(0, 80))`, &strips))
		if wide {
			var dbg []string
			chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.parentElement.closest('table')).slice(0, 12).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`, &dbg))
			t.Errorf("%s at 375 px: the page scrolls sideways %v", name, dbg)
		}
		if len(strips) > 0 {
			t.Errorf("%s at 375 px: squeezed into strips: %v", name, strips)
		}
	}
	narrow("the app editor", h.main.URL+"/ui/#/apps/capacity", "#c0-token_url")
	// The org page names acme, connected without installing, and beta, installed.
	var orgsPage string
	browse(t, ctx, "the org page", chromedp.EmulateViewport(1280, 900), openUI(h, "#/apps/capacity/orgs"), chromedp.WaitVisible("#install-org", chromedp.ByQuery),
		chromedp.Sleep(300*time.Millisecond), chromedp.Text("main", &orgsPage, chromedp.ByQuery))
	if !strings.Contains(orgsPage, "beta") || !strings.Contains(orgsPage, "acme") {
		t.Errorf("the org page: got %q, want beta (installed) and acme (connected without installing)", orgsPage)
	}

	narrow("the org installs", h.main.URL+"/ui/#/apps/capacity/orgs", "#install-org")
	var installURL string
	browse(t, ctx, "issue an install link", chromedp.EmulateViewport(375, 900), openUI(h, "#/apps/capacity/orgs"), chromedp.WaitVisible("#install-org", chromedp.ByQuery),
		setInput("#install-org", "acme"), chromedp.Click(`//button[text()="Create install link"]`), chromedp.WaitVisible("#install-link-url", chromedp.ByQuery))
	var wide bool
	browse(t, ctx, "the install link at 375 px", chromedp.Evaluate(`document.documentElement.scrollWidth > innerWidth`, &wide),
		chromedp.AttributeValue("#install-link-url", "href", &installURL, nil, chromedp.ByQuery))
	if wide {
		t.Error("the org page with an install link at 375 px: the page scrolls sideways")
	}
	narrow("the API keys", h.main.URL+"/ui/#/keys", "#key-name")
	browse(t, ctx, "back to 1280 px", chromedp.EmulateViewport(1280, 900))

	var icon string
	browse(t, ctx, "the favicon", chromedp.Evaluate(`document.querySelector('link[rel=icon]')?.href || ''`, &icon))
	if resp, body := h.do("GET", pathOf(t, icon), "", "", ""); icon == "" || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(body), "<svg") {
		t.Errorf("favicon %q: got HTTP %d %s, want an SVG", icon, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Every time on the audit log is written one way, the times inside
	// details (the install link's expiry) too.
	var times []string
	browse(t, ctx, "the audit log", openUI(h, "#/audit"), chromedp.WaitVisible("tbody tr", chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('tbody td')].map(td => td.textContent).filter(s => /\d{4}/.test(s) && /\d:\d\d/.test(s))`, &times))
	rfc3339 := regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`)
	ours := regexp.MustCompile(`^(.* )?\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} \S+$`)
	for _, s := range times {
		if rfc3339.MatchString(s) || !ours.MatchString(s) {
			t.Errorf("the audit log shows the time %q, want every time as 23 Nov 2026, 09:00:00 UTC", s)
		}
	}
	if len(times) < 2 {
		t.Errorf("the audit log: got times %q, want the events' times and the install link's expiry", times)
	}

	// The session ends: the next screen is the sign-in, saying why.
	h.clock.Advance(13 * time.Hour)
	var notice string
	step(t, ctx, "an expired session", chromedp.Click(`//nav//a[text()="API keys"]`), chromedp.WaitVisible("#signin-notice", chromedp.ByQuery),
		chromedp.Text("#signin-notice", &notice, chromedp.ByQuery))
	if !strings.Contains(notice, "sign in again") {
		t.Errorf("expired session: got %q, want the sign-in screen saying to sign in again", notice)
	}
}
