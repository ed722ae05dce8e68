package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store"
)

// seedConnections stores n connections of the app capacity directly in
// the store (not through HTTP): 100 users in each of n/100 orgs named
// org-0000…, every tenth needing re-authorization.
func seedConnections(tb testing.TB, h *harness, n int) {
	tb.Helper()
	st := h.main.Store().In(latchkey.EnvDev)
	ctx := latchkey.WithEnvironment(context.Background(), latchkey.EnvDev)
	start := time.Now()
	for i := 0; i < n; i++ {
		c := latchkey.Connection{ConnectionKey: latchkey.ConnectionKey{App: "capacity", Org: fmt.Sprintf("org-%04d", i/100), User: fmt.Sprintf("user-%02d", i%100), Config: "example"},
			Status: latchkey.StatusActive, ExpiresAt: h.clock.Now().Add(time.Hour), RefreshedAt: h.clock.Now()}
		if i%10 == 0 {
			c.Status = latchkey.StatusNeedsReauth
		}
		if _, err := st.PutConnection(ctx, c); err != nil {
			tb.Fatalf("seeding connection %d: %v", i, err)
		}
	}
	tb.Logf("seeded %d connections in %v", n, time.Since(start).Round(time.Millisecond))
}

// uiTimes are the times, in ms, from submitting sign-in to the first
// screen (the apps) rendered with its data, and from opening the
// connections screen to its first page rendered.
type uiTimes struct{ firstScreen, connections float64 }

// signInAndTime signs in from a fresh session and times the first screen
// and the connections screen by the UI's mark (window.__latchkeyReady,
// set once a screen's data is rendered).
func signInAndTime(t *testing.T, ctx context.Context, h *harness) uiTimes {
	t.Helper()
	var out uiTimes
	const awaitReady = `new Promise(r => { const f = () => window.__latchkeyReady !== undefined && document.querySelector(%q) ? r(window.__latchkeyReady - window.__t0) : setTimeout(f, 5); f() })`
	browse(t, ctx, "open the sign-in screen", network.ClearBrowserCookies(), openUI(h, "#/apps"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Evaluate(`window.__latchkeyReady = undefined; window.__t0 = performance.now(); document.querySelector('button[type=submit]').click()`, nil),
		chromedp.Evaluate(fmt.Sprintf(awaitReady, "#app-doc"), &out.firstScreen, awaitPromise))
	browse(t, ctx, "open the connections", chromedp.Evaluate(`window.__latchkeyReady = undefined; window.__t0 = performance.now(); location.hash = '#/connections'`, nil),
		chromedp.Evaluate(fmt.Sprintf(awaitReady, "#conn-total"), &out.connections, awaitPromise))
	return out
}

// connectionsHarness starts Latchkey with an admin and the app capacity
// against a fake provider; with seed > 0, a real connection of acme/u1
// made through the provider and seed more connections.
func connectionsHarness(t *testing.T, seed int) (*harness, *providertest.Provider) {
	h := startLatchkey(t)
	addAdmin(t, h)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL(),
		"required: true, description: Client id", "required: true, default: capacity-client, description: Client id",
		"required: true, description: Client secret", "required: true, default: s3cr3t-client-value, description: Client secret").Replace(browserApp)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	if seed > 0 {
		h.connectUser(provider, "u1")
		seedConnections(t, h, seed)
	}
	return h, provider
}

// median is the middle of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestBrowserConnectionsAcrossApps drives the connections screen over
// 10,000 connections as an admin would: the total, a page forward and
// back, a status filter and an org search kept across a reload; then a
// connection's detail: its events, a forced refresh at the fake provider
// that brings no token into the browser, and disconnect. It times, in the
// same run, the first screen after sign-in and the connections screen with
// 10,000 connections and with none (the baseline), and logs them
// (LATCHKEY_UI_TIMING_RUNS=n repeats each measure n times and logs the
// medians, for BENCHMARKS.md). It asserts behaviour, not time.
func TestBrowserConnectionsAcrossApps(t *testing.T) {
	runs := 1
	if v := os.Getenv("LATCHKEY_UI_TIMING_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LATCHKEY_UI_TIMING_RUNS=%q: want a whole number of runs", v)
		}
		runs = n
	}
	measure := func(name string, ctx context.Context, h *harness) uiTimes {
		var first, conns []float64
		for i := 0; i < runs; i++ {
			m := signInAndTime(t, ctx, h)
			first, conns = append(first, m.firstScreen), append(conns, m.connections)
		}
		m := uiTimes{median(first), median(conns)}
		t.Logf("UI timing, %s: first screen after sign-in %.0f ms, connections' first page %.0f ms (medians of %d: %v, %v)", name, m.firstScreen, m.connections, runs, first, conns)
		return m
	}

	// The baseline: the same screens over an empty store.
	{
		ctx := newBrowser(t)
		h, _ := connectionsHarness(t, 0)
		base := measure("baseline (no connection)", ctx, h)
		defer func() {
			t.Logf("UI timing baseline: first screen %.0f ms, connections %.0f ms", base.firstScreen, base.connections)
		}()
	}

	ctx := newBrowser(t)
	errs := watchPageErrors(ctx)
	h, provider := connectionsHarness(t, 10000)
	full := measure("10,000 connections", ctx, h)
	t.Logf("UI timing with 10,000: first screen %.0f ms, connections %.0f ms", full.firstScreen, full.connections)

	total := func() string {
		var s string
		browse(t, ctx, "read the total", chromedp.Text("#conn-total", &s, chromedp.ByQuery))
		return s
	}
	waitTotal := func(what, want string) {
		t.Helper()
		step(t, ctx, what, chromedp.WaitVisible(fmt.Sprintf(`//p[@id="conn-total"][contains(., %q)]`, want)))
	}
	browse(t, ctx, "the list", openUI(h, "#/connections"), chromedp.WaitVisible("#conn-table", chromedp.ByQuery))
	waitTotal("the total of every connection", "10,001 connections; showing 1–50")
	checkPage(t, ctx, "30-connections")
	step(t, ctx, "the next page", chromedp.Click("#conn-next", chromedp.ByQuery), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "showing 51–100")]`))
	step(t, ctx, "a third page", chromedp.Click("#conn-next", chromedp.ByQuery), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "showing 101–150")]`))
	step(t, ctx, "back a page", chromedp.Click("#conn-prev", chromedp.ByQuery), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "showing 51–100")]`))
	step(t, ctx, "a reload keeps the page and its way back", chromedp.Reload(), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "showing 51–100")]`),
		chromedp.Click("#conn-prev", chromedp.ByQuery), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "showing 1–50")]`))

	step(t, ctx, "filter by status", chromedp.SetValue("#conn-status", "needs_reauth", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#conn-status').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.Click(`//button[text()="Search"]`), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "1,000 connections")]`))
	var statuses []string
	browse(t, ctx, "the statuses shown", chromedp.Evaluate(`[...new Set([...document.querySelectorAll('#conn-table .status')].map(e => e.textContent))]`, &statuses))
	if fmt.Sprint(statuses) != "[needs_reauth]" {
		t.Errorf("filtered by needs_reauth, the list shows %v", statuses)
	}
	step(t, ctx, "search an org", setInput("#conn-q", "ORG-0042"), chromedp.Click(`//button[text()="Search"]`),
		chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "10 connections")]`))
	var hash string
	step(t, ctx, "a reload keeps the filters", chromedp.Reload(), chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "10 connections")]`),
		chromedp.Evaluate(`location.hash`, &hash))
	if !strings.Contains(hash, "status=needs_reauth") || !strings.Contains(hash, "q=ORG-0042") {
		t.Errorf("the address after filtering: %q, want the status and the search", hash)
	}
	var q string
	browse(t, ctx, "the form after the reload", chromedp.Value("#conn-q", &q, chromedp.ByQuery))
	if q != "ORG-0042" {
		t.Errorf("the search field after a reload: %q, want ORG-0042", q)
	}

	// The app editor's link: the same screen with the app preset.
	step(t, ctx, "the app's connections", openUI(h, "#/apps/capacity/connections?q=u1"),
		chromedp.WaitVisible(`//p[@id="conn-total"][contains(., "1 connection;")]`))

	// The detail of acme/u1, connected through the fake provider.
	step(t, ctx, "open a connection", chromedp.Click(`//a[contains(., "acme / u1")]`), chromedp.WaitVisible("#conn-detail", chromedp.ByQuery),
		chromedp.WaitVisible(`//table[@id="conn-events"]//td[contains(., "connection.created")]`))
	checkPage(t, ctx, "31-connection")
	refreshes := provider.RefreshCalls()
	h.clock.Advance(time.Minute)
	var msg string
	step(t, ctx, "refresh now", chromedp.Click(`//button[text()="Refresh now"]`), chromedp.WaitVisible(`//p[@role="status"][contains(., "Refreshed")]`),
		chromedp.Text(`//p[@role="status"][contains(., "Refreshed")]`, &msg))
	step(t, ctx, "the refresh in the events", chromedp.WaitVisible(`//table[@id="conn-events"]//td[contains(., "connection.refreshed")]`))
	if got := provider.RefreshCalls() - refreshes; got != 1 {
		t.Errorf("Refresh now: %d refreshes at the provider, want 1 (%q)", got, msg)
	}
	// Its flow traces: the refresh and the authorization, each with its
	// steps as sent and answered, the tokens masked.
	var refreshTrace string
	step(t, ctx, "the refresh in the traces", chromedp.WaitVisible(`//table[@id="conn-traces"]//td[text()="refresh"]`),
		chromedp.Click(`//table[@id="conn-traces"]//tr[td[text()="refresh"]]//button`),
		chromedp.WaitVisible(`//table[@id="conn-traces"]//li//summary[contains(., "refresh")]`),
		chromedp.Click(`//table[@id="conn-traces"]//li//summary[contains(., "refresh")]`),
		chromedp.Text(`//table[@id="conn-traces"]//div[@class="trace"]`, &refreshTrace))
	if !strings.Contains(refreshTrace, "HTTP 200") || !strings.Contains(refreshTrace, `"access_token": "••••••"`) || !strings.Contains(refreshTrace, "refresh_token=••••••") {
		t.Errorf("the refresh's trace: got %q, want its answer with the tokens masked", refreshTrace)
	}
	checkPage(t, ctx, "32-connection-trace")
	step(t, ctx, "only failures", chromedp.Click("#traces-failed", chromedp.ByQuery),
		chromedp.WaitVisible(`//section[@class="traces"]//p[contains(., "No trace of a failure")]`))
	if audit := string(h.expect(http.StatusOK, "GET", "/api/v1/audit?action=token.read", testAdminKey, "", "")); strings.Contains(audit, testAdminEmail) {
		t.Errorf("the detail read the token into the browser: %s", audit)
	}
	step(t, ctx, "disconnect", chromedp.Evaluate(`window.confirm = () => true`, nil), chromedp.Click(`//button[text()="Disconnect"]`),
		chromedp.WaitVisible("#conn-total", chromedp.ByQuery))
	_, err := h.main.Store().In(latchkey.EnvDev).GetConnection(latchkey.WithEnvironment(context.Background(), latchkey.EnvDev),
		latchkey.ConnectionKey{App: "capacity", Org: "acme", User: "u1", Config: "example"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after Disconnect, reading acme/u1: %v, want not found", err)
	}
	if got := total(); !strings.Contains(got, "10,000 connections") {
		t.Errorf("after Disconnect, the list of capacity: %q, want 10,000 connections", got)
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %v", e)
	}
}
