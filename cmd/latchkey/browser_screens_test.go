package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// browserWithAdmin starts what most browser scenarios start from: a
// headless Chromium whose page errors are watched, a Latchkey, and the
// admin account signInToUI signs in with.
func browserWithAdmin(t *testing.T) (ctx context.Context, errs func() []string, h *harness) {
	t.Helper()
	ctx = newBrowser(t)
	errs = watchPageErrors(ctx)
	h = startLatchkey(t)
	addAdmin(t, h)
	return ctx, errs, h
}

// watchPageErrors collects every uncaught exception and every console
// error of the page from now on; the function it returns gives them.
func watchPageErrors(ctx context.Context) func() []string {
	var mu sync.Mutex
	var seen []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			seen = append(seen, "exception: "+e.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				seen = append(seen, "console.error: "+strings.Join(args, " "))
			}
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// capacityInstalled saves the browser tests' app, capacity, against a
// fake provider and installs it for org acme, as most UI scenarios begin.
func capacityInstalled(tb testing.TB, h *harness) *providertest.Provider {
	tb.Helper()
	provider := providertest.New(tb, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL()).Replace(browserApp)
	h.expect(201, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	h.expect(200, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value"}`)
	return provider
}

// signInToUI signs the test admin in to the builder UI and waits for the
// signed-in shell (not the sign-in screen's own heading).
func signInToUI(tb testing.TB, ctx context.Context, h *harness) {
	tb.Helper()
	browse(tb, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//nav//a[text()="Apps"]`))
}

// screen is one screen of the builder UI: its hash route and an element
// that shows once its data is rendered.
type screen struct{ name, route, ready string }

// TestBrowserEveryScreenIsAccessibleInLightAndDark visits every screen of
// the builder UI, with an app, an org, a connection and a key in the store,
// as a first-time admin would: each one renders without a console error,
// passes axe-core at 375 and 1280 px in the light scheme and again in the
// dark one (its contrast is the tokens' own), and is photographed into
// test-output/.
func TestBrowserEveryScreenIsAccessibleInLightAndDark(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	provider := capacityInstalled(t, h)
	h.connectUser(provider, "ada")
	h.expect(201, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"name": "backend", "scope": "runtime", "app": "capacity"}`)

	signInToUI(t, ctx, h)
	browse(t, ctx, "the apps", chromedp.WaitVisible("main table", chromedp.ByQuery))

	screens := []screen{
		{"apps", "#/apps", "main table"},
		{"catalog", "#/catalog", ".catalog-card"},
		{"app-editor", "#/apps/capacity", "#c0-token_url"},
		{"org-installs", "#/apps/capacity/orgs", "#install-org"},
		{"org-settings", "#/apps/capacity/orgs/acme", "#org-settings"},
		{"app-connections", "#/apps/capacity/connections", ".status-active"},
		{"connections", "#/connections", "#conn-table"},
		{"connection", "#/connections/capacity/acme/ada/example", "#conn-events"},
		{"webhooks", "#/apps/capacity/webhooks", "#webhook-url"},
		{"app-traces", "#/apps/capacity/traces", "#app-traces"},
		{"api-keys", "#/keys", "main table"},
		{"audit-log", "#/audit", "main tbody tr"},
		{"environments", "#/environments", "#environments"},
		{"oauth-server", "#/oauth", "main h1"},
		{"admins", "#/admins", "#admins"},
	}
	for _, scheme := range []string{"light", "dark"} {
		browse(t, ctx, "prefer the "+scheme+" scheme",
			emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}))
		for _, s := range screens {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Run(wctx, openUI(h, s.route), chromedp.WaitVisible(s.ready, chromedp.ByQuery))
			cancel()
			if err != nil {
				t.Errorf("%s (%s): its data did not show: %v", s.name, s.route, err)
				continue
			}
			checkPage(t, ctx, fmt.Sprintf("screen-%s-%s", s.name, scheme))
		}
	}
	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}
