package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestBrowserOAuthServer drives the OAuth server screen and the
// authorization page in headless Chromium, as an admin and then a person
// would: turn OAuth on, declare a group and a scope, register a public
// OAuth app; then, signed out, open the app's authorization URL, sign in,
// come back to the consent form, allow, and land on the app's callback
// with a code; finally revoke the authorization from the screen. Each page
// is checked with axe-core at 375 and 1280 px.
func TestBrowserOAuthServer(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	callbacks := make(chan *url.URL, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case callbacks <- r.URL:
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><title>Dashboard</title><main><h1 id="done">Connected to Latchkey</h1></main></html>`))
	}))
	defer app.Close()

	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))
	browse(t, ctx, "turn OAuth on", chromedp.Click(`//nav//a[text()="OAuth server"]`), chromedp.WaitVisible("#oauth-enabled", chromedp.ByQuery),
		chromedp.Click("#oauth-enabled", chromedp.ByQuery), chromedp.Click(`//button[text()="Save"]`),
		chromedp.WaitVisible(`//span[@role="status" and contains(., "Saved")]`))
	browse(t, ctx, "declare a group", setInput("#group-name", "readers"), setInput("#group-description", "Read apps"),
		chromedp.Click(`input[name="group-permissions"][value="apps:read"]`, chromedp.ByQuery), chromedp.Click(`//button[text()="Save group"]`),
		chromedp.WaitVisible(`//section[@aria-labelledby="oauth-groups"]//td/code[text()="readers"]`))
	browse(t, ctx, "declare a scope", setInput("#scope-name", "read"), setInput("#scope-description", "Read your apps"),
		chromedp.WaitVisible(`input[name="scope-groups"][value="readers"]`, chromedp.ByQuery),
		chromedp.Click(`input[name="scope-groups"][value="readers"]`, chromedp.ByQuery), chromedp.Click(`//button[text()="Save scope"]`),
		chromedp.WaitVisible(`//section[@aria-labelledby="oauth-scopes"]//td/code[text()="read"]`))
	var clientID string
	browse(t, ctx, "register an OAuth app", setInput("#oauth-app-name", "dashboard"), setInput("#oauth-app-label", "Partner dashboard"),
		setInput("#oauth-app-description", "Shows your integrations"), setInput("#oauth-app-redirect", "http://127.0.0.1/callback"),
		chromedp.WaitVisible(`input[name="oauth-app-scopes"][value="read"]`, chromedp.ByQuery),
		chromedp.Click(`input[name="oauth-app-scopes"][value="read"]`, chromedp.ByQuery), chromedp.Click("#oauth-app-public", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Register"]`), chromedp.WaitVisible("#oauth-client-id", chromedp.ByQuery),
		chromedp.Text("#oauth-client-id", &clientID, chromedp.ByQuery))
	if !strings.HasPrefix(clientID, "lkc_") {
		t.Fatalf("the registered app's client id: %q", clientID)
	}
	checkPage(t, ctx, "20-oauth-server")

	// Signed out, the person opens the app's authorization URL: sign in
	// first, then the consent form, then the app's callback.
	conf := oauth2.Config{ClientID: clientID, RedirectURL: app.URL + "/callback", Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{AuthURL: h.main.URL + "/dev/oauth/authorize"}}
	authURL := conf.AuthCodeURL("state-from-the-browser", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	browse(t, ctx, "sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible("#email", chromedp.ByQuery))
	browse(t, ctx, "open the authorization URL", chromedp.Navigate(authURL), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//button[text()="Allow"]`))
	var consent string
	browse(t, ctx, "read the consent form", chromedp.Text("main", &consent, chromedp.ByQuery))
	for _, want := range []string{"Partner dashboard", "Shows your integrations", "Read your apps", testAdminEmail} {
		if !strings.Contains(consent, want) {
			t.Errorf("the consent form does not show %q: %s", want, consent)
		}
	}
	checkPage(t, ctx, "21-oauth-consent")
	browse(t, ctx, "allow", chromedp.Click(`//button[text()="Allow"]`), chromedp.WaitVisible("#done", chromedp.ByQuery))
	var callback *url.URL
	select {
	case callback = <-callbacks:
	default:
	}
	if callback == nil || callback.Query().Get("code") == "" || callback.Query().Get("state") != "state-from-the-browser" || !strings.HasSuffix(callback.Query().Get("iss"), "/dev/oauth") {
		t.Fatalf("the app's callback got %v, want a code, the state and iss", callback)
	}

	// The admin sees the authorization and revokes it.
	var state string
	browse(t, ctx, "revoke the authorization", openUI(h, "#/oauth"),
		chromedp.WaitVisible(`//section[@aria-labelledby="oauth-authorizations"]//button[starts-with(., "Revoke")]`),
		chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`//section[@aria-labelledby="oauth-authorizations"]//button[starts-with(., "Revoke")]`),
		chromedp.WaitNotPresent(`//section[@aria-labelledby="oauth-authorizations"]//button[starts-with(., "Revoke")]`),
		chromedp.Text(`//section[@aria-labelledby="oauth-authorizations"]//tbody/tr/td[6]`, &state))
	if !strings.HasPrefix(state, "revoked") {
		t.Fatalf("the authorization's state after revoking: %q", state)
	}
	checkPage(t, ctx, "22-oauth-authorizations")
}
