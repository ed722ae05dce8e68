package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// chromiumPath is Debian's Chromium, which .ci/run installs when missing.
const chromiumPath = "/usr/bin/chromium"

// axePath is axe-core from the UI's npm dev dependencies (npm ci in ui/).
const axePath = "../../ui/node_modules/axe-core/axe.min.js"

// outputDir receives the screenshots, for review; it is not committed.
const outputDir = "../../test-output"

// openUI moves the builder UI to route (a hash such as "#/apps/crm"): a
// full load when the UI is not the page yet, else a change of the page's
// hash, as a link does. chromedp.Navigate to a URL that differs only in its
// fragment waits for a load event a same-document navigation may never
// fire, and sporadically never returns (chromedp issue 1091).
func openUI(h *harness, route string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var at string
		if err := chromedp.Evaluate(`location.origin + location.pathname`, &at).Do(ctx); err == nil && at == h.main.URL+"/ui/" {
			return chromedp.Evaluate(`location.hash = `+strconv.Quote(route)+`, true`, nil).Do(ctx)
		}
		return chromedp.Navigate(h.main.URL + "/ui/" + route).Do(ctx)
	})
}

// newBrowser starts a headless Chromium with a fresh profile; extra
// options change chromedp's defaults. Without Chromium the test is skipped,
// except under CI=true, where it fails.
func newBrowser(tb testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is missing: CI must run the browser tests (.ci/run installs chromium)", chromiumPath)
		}
		tb.Skipf("%s is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests", chromiumPath)
	}
	profile, err := os.MkdirTemp("", "latchkey-chromium-")
	if err != nil {
		tb.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	tb.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		// Chromium's helpers may still write to the profile for a moment.
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx, page.SetBypassCSP(true)); err != nil {
		tb.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// browse runs browser actions and fails the test on error.
func browse(tb testing.TB, ctx context.Context, what string, actions ...chromedp.Action) {
	tb.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// checkPage saves a screenshot of the page at 375 and 1280 px wide and runs
// axe-core at each width, failing on any serious or critical violation.
func checkPage(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	axe, err := os.ReadFile(axePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("axe-core is missing (%v): run npm ci in ui/", err)
		}
		tb.Logf("axe-core is missing (%v): run npm ci in ui/ for the accessibility check; screenshots only", err)
	}
	if err := os.MkdirAll(outputDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, width := range []int64{375, 1280} {
		var shot []byte
		browse(tb, ctx, name+": screenshot", chromedp.EmulateViewport(width, 900), chromedp.Sleep(100*time.Millisecond), chromedp.FullScreenshot(&shot, 80))
		if err := os.WriteFile(filepath.Join(outputDir, fmt.Sprintf("%s-%d.jpg", name, width)), shot, 0o644); err != nil {
			tb.Fatal(err)
		}
		if axe == nil {
			continue
		}
		var violations []struct {
			ID, Impact, Help string
			Nodes            []string
		}
		script := `(async () => {
			if (!window.axe) { ` + string(axe) + ` }
			const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
			return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
				.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
		})()`
		browse(tb, ctx, name+": axe", chromedp.Evaluate(script, &violations, awaitPromise))
		for _, v := range violations {
			tb.Errorf("%s at %d px: %s accessibility violation %s (%s) at %v", name, width, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
	browse(tb, ctx, name+": viewport", chromedp.EmulateViewport(1280, 900))
}

// setInput sets a text field's value as typing would, so the UI sees it.
func setInput(sel, value string) chromedp.Action {
	v, _ := json.Marshal(value)
	s, _ := json.Marshal(sel)
	return chromedp.Evaluate(`(() => { const el = document.querySelector(`+string(s)+`);
		const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
		Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, `+string(v)+`);
		el.dispatchEvent(new Event('input', {bubbles: true})); })()`, nil)
}

const browserApp = `name: capacity
label: Capacity
allowed_return_urls: ["https://app.example.com/integrations"]
settings:
  - {name: client_id, level: org, required: true, description: Client id issued by the provider}
  - {name: client_secret, level: org, secret: true, required: true, description: Client secret issued by the provider}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: example
    label: Example Provider
    description: Capacity reads your example projects to plan your week.
    link_url: "AUTHORIZE?client_id={{client_id}}&redirect_uri={{redirect_uri}}&response_type=code"
    token_url: TOKEN
    refresh_token_url: TOKEN
    scopes: [read, projects]
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

// TestBrowserBuilderAndEndUserPages drives the builder UI and the end-user
// pages in headless Chromium: sign in, create an app from YAML, see a broken
// config's validation message beside its field, fill the org settings
// through the install prompt, connect a user through the landing page
// against a fake provider, see the connection active in the UI, and see a
// provider's refusal rendered. Every page is checked with axe-core at 375 and
// 1280 px and photographed into test-output/.
func TestBrowserBuilderAndEndUserPages(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL()).Replace(browserApp)

	// Sign in; the first screen's render time is measured in the browser.
	var firstRender float64
	browse(t, ctx, "open the UI", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		chromedp.Evaluate(`window.__latchkeyReady || performance.now()`, &firstRender))
	t.Logf("first screen rendered %.0f ms after navigation start", firstRender)
	_ = os.MkdirAll(outputDir, 0o755)
	_ = os.WriteFile(filepath.Join(outputDir, "ui-first-render.txt"), fmt.Appendf(nil, "%.0f ms\n", firstRender), 0o644)
	checkPage(t, ctx, "01-sign-in")
	browse(t, ctx, "sign in", setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))
	checkPage(t, ctx, "02-apps")

	// Create the app from its YAML document.
	browse(t, ctx, "create the app", setInput("#app-doc", doc), chromedp.Click(`//button[text()="Create app"]`),
		chromedp.WaitVisible("#c0-token_url", chromedp.ByQuery))
	checkPage(t, ctx, "03-app-editor")

	// The playground renders the link and the token request, the client
	// secret masked, and runs an extraction path over a pasted answer.
	var tokenRequest, extracted string
	browse(t, ctx, "render in the playground", chromedp.Click(`//fieldset[@class="config"]//summary[contains(., "Playground")]`),
		chromedp.WaitVisible("#c0-pg-client_id", chromedp.ByQuery),
		setInput("#c0-pg-client_id", "capacity-client"), setInput("#c0-pg-client_secret", "pl4yground-secret"),
		chromedp.Click(`//button[text()="Render"]`), chromedp.WaitVisible("#c0-pg-link", chromedp.ByQuery),
		chromedp.Text("#c0-pg-token", &tokenRequest, chromedp.ByQuery),
		setInput("#c0-x-response", `{"access_token": "at-from-paste", "expires_in": 3600}`),
		chromedp.Click(`//button[text()="Run path"]`), chromedp.WaitVisible("#c0-x-value", chromedp.ByQuery),
		chromedp.Text("#c0-x-value", &extracted, chromedp.ByQuery))
	if !strings.Contains(tokenRequest, "client_secret=********") || strings.Contains(tokenRequest, "pl4yground-secret") {
		t.Errorf("playground token request: got %q, want the client secret masked", tokenRequest)
	}
	if extracted != "at-from-paste" {
		t.Errorf("playground extraction: got %q, want at-from-paste", extracted)
	}
	checkPage(t, ctx, "03-playground")

	// A broken token URL: the server's message is shown beside its field.
	var fieldError string
	browse(t, ctx, "save a broken config", setInput("#c0-token_url", "not a url"), chromedp.Click(`//button[text()="Save app"]`),
		chromedp.WaitVisible(`[data-field="c0-token_url"] .field-error`, chromedp.ByQuery),
		chromedp.Text(`[data-field="c0-token_url"] .field-error`, &fieldError, chromedp.ByQuery))
	if fieldError == "" {
		t.Fatal("got no message beside the token URL field, want the server's validation message")
	}
	t.Logf("token_url message: %q", fieldError)
	checkPage(t, ctx, "04-config-error")

	// The install link, issued from the UI, and the install prompt.
	var installURL string
	// The editor holds the unsaved broken URL: leaving it asks first.
	browse(t, ctx, "issue an install link", chromedp.Evaluate(`window.confirm = () => true`, nil), openUI(h, "#/apps/capacity/orgs"), chromedp.WaitVisible("#install-org", chromedp.ByQuery),
		setInput("#install-org", "acme"), chromedp.Click(`//button[text()="Create install link"]`),
		chromedp.WaitVisible("#install-link-url", chromedp.ByQuery), chromedp.AttributeValue("#install-link-url", "href", &installURL, nil, chromedp.ByQuery))
	checkPage(t, ctx, "05-org-installs")
	browse(t, ctx, "open the install prompt", chromedp.Navigate(installURL), chromedp.WaitVisible("#s_client_id", chromedp.ByQuery))
	checkPage(t, ctx, "06-install-prompt")
	browse(t, ctx, "submit without the client id", setInput("#s_client_secret", "s3cr3t-client-value"),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#e_client_id", chromedp.ByQuery))
	checkPage(t, ctx, "07-install-missing")
	var page string
	browse(t, ctx, "install", setInput("#s_client_id", "capacity-client"), setInput("#s_client_secret", "s3cr3t-client-value"),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("h1.ok", chromedp.ByQuery),
		chromedp.OuterHTML("html", &page, chromedp.ByQuery))
	if strings.Contains(page, "s3cr3t-client-value") {
		t.Fatal("the install page echoed the client secret")
	}
	checkPage(t, ctx, "08-installed")

	// The org page lists the link as used; a second one, revoked from the
	// UI, opens nothing.
	var state, revokedURL string
	browse(t, ctx, "see the used link", openUI(h, "#/apps/capacity/orgs"), chromedp.WaitVisible(".install-link-state", chromedp.ByQuery),
		chromedp.Text(".install-link-state", &state, chromedp.ByQuery))
	if state != "used" {
		t.Fatalf("the install link's state: got %q, want used", state)
	}
	browse(t, ctx, "issue and revoke a link", setInput("#install-org", "acme"), chromedp.Click(`//button[text()="Create install link"]`),
		chromedp.WaitVisible("#install-link-url", chromedp.ByQuery), chromedp.AttributeValue("#install-link-url", "href", &revokedURL, nil, chromedp.ByQuery),
		chromedp.WaitVisible(`//button[starts-with(., "Revoke")]`), chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`//button[starts-with(., "Revoke")]`), chromedp.WaitNotPresent(`//button[starts-with(., "Revoke")]`))
	checkPage(t, ctx, "08-install-links")
	if resp, _ := h.do("GET", pathOf(t, revokedURL), "", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the revoked link: got HTTP %d, want 404", resp.StatusCode)
	}

	// A user connects through the landing page against the fake provider.
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-42/connections/example/link", testAdminKey, "", ""))
	browse(t, ctx, "open the landing page", chromedp.Navigate(link["url"].(string)), chromedp.WaitVisible(`//button[text()="Allow access"]`))
	checkPage(t, ctx, "09-landing")
	var result string
	browse(t, ctx, "allow", chromedp.Click(`//button[text()="Allow access"]`), chromedp.WaitVisible("h1.ok", chromedp.ByQuery),
		chromedp.Text("h1", &result, chromedp.ByQuery))
	if !strings.Contains(result, "Connected") {
		t.Fatalf("got result %q, want Connected", result)
	}
	checkPage(t, ctx, "10-connected")

	// The connection is active in the UI.
	browse(t, ctx, "see the connection", openUI(h, "#/apps/capacity/connections"),
		chromedp.WaitVisible(".status-active", chromedp.ByQuery))
	checkPage(t, ctx, "11-connections")

	// Test connection: the real flow in a popup, whose result page posts
	// its outcome back to the editor (under the pages' real CSP: the
	// popup is a new target, not bypassed).
	browse(t, ctx, "open the test connection panel", openUI(h, "#/apps/capacity"),
		chromedp.WaitVisible("#c0-token_url", chromedp.ByQuery),
		chromedp.Click(`//fieldset[@class="config"]//summary[contains(., "Test connection")]`),
		chromedp.WaitVisible("#c0-t-org", chromedp.ByQuery), setInput("#c0-t-org", "acme"), setInput("#c0-t-user", "u-44"))
	opened := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	browse(t, ctx, "test connection", chromedp.Click(`//button[text()="Test connection"]`))
	var popupID target.ID
	select {
	case popupID = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("no popup window opened")
	}
	pctx, cancelPopup := chromedp.NewContext(ctx, chromedp.WithTargetID(popupID))
	browse(t, pctx, "allow in the popup", chromedp.WaitVisible(`//button[text()="Allow access"]`), chromedp.Click(`//button[text()="Allow access"]`))
	defer cancelPopup() // cancelling closes the popup: only once the flow is over
	var steps string
	wctx, cancelWait := context.WithTimeout(ctx, 15*time.Second)
	err := chromedp.Run(wctx, chromedp.WaitVisible(`//ol[@id="c0-t-steps"]/li[contains(., "Connection")]`))
	cancelWait()
	browse(t, ctx, "read the steps", chromedp.Text("#c0-t-steps", &steps, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("test connection: got steps %q (%v), want the connection shown", steps, err)
	}
	if !strings.Contains(steps, "Callback result: done") || !strings.Contains(steps, "status active") {
		t.Errorf("test connection steps: got %q, want the callback done and the connection active", steps)
	}
	// The run's trace: the return from the provider and the exchange, as
	// sent and answered, with the client secret and the tokens masked.
	var traced string
	browse(t, ctx, "read the run's trace", chromedp.WaitVisible(`//div[@class="latest-trace"]//li[contains(., "token exchange")]`),
		chromedp.Click(`//div[@class="latest-trace"]//summary[contains(., "token exchange")]`),
		chromedp.Text(".latest-trace", &traced, chromedp.ByQuery))
	if !strings.Contains(traced, "HTTP 200") || !strings.Contains(traced, "••••••") || strings.Contains(traced, "s3cr3t-client-value") {
		t.Errorf("the run's trace: got %q, want the exchange answered 200 with its secrets masked", traced)
	}
	checkPage(t, ctx, "11-test-connection")

	// A failed run: the provider refuses, and the steps say the
	// authorization failed rather than done.
	provider.DenyNext()
	browse(t, ctx, "another test user", setInput("#c0-t-user", "u-45"))
	opened = chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	browse(t, ctx, "test connection, refused", chromedp.Click(`//button[text()="Test connection"]`))
	select {
	case popupID = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("no popup window opened for the refused run")
	}
	rctx, cancelRefused := chromedp.NewContext(ctx, chromedp.WithTargetID(popupID))
	defer cancelRefused()
	browse(t, rctx, "allow in the popup, refused by the provider", chromedp.WaitVisible(`//button[text()="Allow access"]`), chromedp.Click(`//button[text()="Allow access"]`))
	wctx, cancelWait = context.WithTimeout(ctx, 15*time.Second)
	err = chromedp.Run(wctx, chromedp.WaitVisible(`//ol[@id="c0-t-steps"]/li[contains(., "Callback result")]`))
	cancelWait()
	browse(t, ctx, "read the refused run's steps", chromedp.Text("#c0-t-steps", &steps, chromedp.ByQuery))
	if err != nil || !strings.Contains(steps, "Authorization: failed") || strings.Contains(steps, "Authorization: done") {
		t.Errorf("refused test connection: got steps %q (%v), want the authorization failed", steps, err)
	}
	browse(t, ctx, "read the refused run's trace", chromedp.WaitVisible(`//div[@class="latest-trace"]//p[contains(., "access_denied")]`),
		chromedp.Text(".latest-trace", &traced, chromedp.ByQuery))
	if !strings.Contains(traced, "failed") {
		t.Errorf("the refused run's trace: got %q, want it failed with the provider's access_denied", traced)
	}

	// The provider refuses: its error is rendered in words.
	provider.DenyNext()
	link = decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-43/connections/example/link", testAdminKey, "", ""))
	browse(t, ctx, "denied", chromedp.Navigate(link["url"].(string)), chromedp.WaitVisible(`//button[text()="Allow access"]`),
		chromedp.Click(`//button[text()="Allow access"]`), chromedp.WaitVisible("h1.error", chromedp.ByQuery),
		chromedp.OuterHTML("main", &page, chromedp.ByQuery))
	if !strings.Contains(page, "access_denied") || !strings.Contains(page, "did not grant access") {
		t.Fatalf("got error page %s, want the provider's access_denied in words", page)
	}
	checkPage(t, ctx, "12-provider-error")
	h.assertNoLeak("s3cr3t-client-value")
}
