package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAppTracesFindAFailedAuthorization: a user refuses at the
// provider and never connects; the builder opens the app's flow traces,
// keeps the failures, and reads the refusal in the provider's words, step
// by step, next to a connected user's authorization. The filters stay in
// the address; each state passes axe-core at 375 and 1280 px.
func TestBrowserAppTracesFindAFailedAuthorization(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	provider := capacityInstalled(t, h)
	h.connectUser(provider, "ada")
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/refuser/connections/example/link",
		testAdminKey, "application/json", `{}`))
	landing, _ := h.do("POST", strings.TrimPrefix(link["url"].(string), h.main.URL), "", "application/x-www-form-urlencoded", "")
	provider.DenyNext()
	cb := provider.Authorize(t, landing.Header.Get("Location"))
	if resp, _ := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode < 400 {
		t.Fatalf("the refused authorization's callback: got HTTP %d, want a refusal", resp.StatusCode)
	}

	signInToUI(t, ctx, h)
	var rows []string
	browse(t, ctx, "open the app's traces from the app", openUI(h, "#/apps/capacity"),
		chromedp.Click(`//a[text()="Flow traces"]`), chromedp.WaitVisible("#app-traces", chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#app-traces tbody tr')].map(tr => tr.textContent)`, &rows))
	if len(rows) != 2 || !strings.Contains(rows[0], "refuser") || !strings.Contains(rows[1], "ada") {
		t.Fatalf("the app's traces: got %q, want the refusal then ada's authorization", rows)
	}
	checkPage(t, ctx, "traces-01-app")

	var hash, trace string
	browse(t, ctx, "only failures", chromedp.Click("#traces-only-failed", chromedp.ByQuery), chromedp.Click(`//button[text()="Filter"]`),
		chromedp.Poll(`document.querySelectorAll('#app-traces tbody tr').length === 1`, nil),
		chromedp.Evaluate(`location.hash`, &hash),
		chromedp.Click(`//table[@id="app-traces"]//button[contains(., "step")]`),
		chromedp.WaitVisible(`//table[@id="app-traces"]//div[@class="trace"]//li`),
		chromedp.Text(`//table[@id="app-traces"]//div[@class="trace"]`, &trace))
	if !strings.Contains(hash, "failed=true") {
		t.Errorf("the address after filtering: %q, want failed=true kept", hash)
	}
	if !strings.Contains(trace, "access_denied") || !strings.Contains(trace, "the user's return from the provider") {
		t.Errorf("the refusal's trace: got %q, want the return from the provider with access_denied", trace)
	}
	checkPage(t, ctx, "traces-02-failure")

	browse(t, ctx, "a flow with no trace", openUI(h, "#/apps/capacity/traces?kind=proxy"),
		chromedp.WaitVisible("#traces-none", chromedp.ByQuery))
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %v", e)
	}
}
