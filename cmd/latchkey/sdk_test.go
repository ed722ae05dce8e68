package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/providertest"
	sdkjs "github.com/latchkey/latchkey/sdk/js"
)

// waitFor evaluates expr until it is truthy and stores its value in res.
// Unlike chromedp.Poll, it gives the page no user activation, which would
// let a popup through the blocker for seconds afterwards.
func waitFor(expr string, res any, timeout time.Duration) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		deadline := time.Now().Add(timeout)
		for {
			var ok bool
			err := chromedp.Evaluate("!!("+expr+")", &ok).Do(ctx)
			if err == nil && ok {
				if res == nil {
					return nil
				}
				return chromedp.Evaluate(expr, res).Do(ctx)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s stayed false for %s (last error: %v)", expr, timeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// TestConnectSDKServed fetches the connect SDK as an app's page on another
// origin would import it: an ES module, loadable cross-origin (module
// scripts are fetched in CORS mode), revalidated by its ETag.
func TestConnectSDKServed(t *testing.T) {
	h := startLatchkey(t)
	resp, body := h.do("GET", "/sdk/connect.js", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sdk/connect.js: got HTTP %d, want 200", resp.StatusCode)
	}
	if !bytes.Equal(body, sdkjs.ConnectJS) || !bytes.Contains(body, []byte("export function connect(")) {
		t.Fatalf("GET /sdk/connect.js: got %d bytes, want the embedded SDK (%d bytes) exporting connect", len(body), len(sdkjs.ConnectJS))
	}
	for name, want := range map[string]string{"Content-Type": "text/javascript; charset=utf-8", "Access-Control-Allow-Origin": "*",
		"Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("GET /sdk/connect.js: got %s %q, want %q", name, got, want)
		}
	}
	if len(body) > 10_000 {
		t.Errorf("the SDK is %d bytes, want a few KB", len(body))
	}
	req, _ := http.NewRequest("GET", h.main.URL+"/sdk/connect.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET /sdk/connect.js with its ETag: got HTTP %d, want 304", again.StatusCode)
	}
}

// sdkAppPage is an app's page on an origin of its own: it imports the SDK
// from Latchkey, and its Connect button asks the app's backend (/link) for
// a link and passes it to connect(). window.run calls connect() outside a
// click; window.options adds options; window.result is the outcome.
const sdkAppPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>An app</title></head>
<body><main><h1>An app</h1>
<label for="user">User</label> <input id="user" value="u-1">
<button id="connect" type="button">Connect</button>
<output id="out"></output></main>
<script type="module">
import { connect, redirectResult, ConnectError } from "SDK_URL";
const show = r => { window.result = r; document.getElementById("out").textContent = JSON.stringify(r); };
window.options = {};
window.run = extra => {
  window.result = undefined;
  const user = document.getElementById("user").value;
  connect({ url: () => fetch("/link?user=" + encodeURIComponent(user)).then(r => r.json()).then(l => l.url), ...window.options, ...extra })
    .then(r => show({ ok: r }), e => show({ err: { name: e.name, code: e.code, message: e.message, app: e.app, config: e.config,
      providerError: e.providerError, providerErrorDescription: e.providerErrorDescription, typed: e instanceof ConnectError } }));
};
document.getElementById("connect").addEventListener("click", () => window.run());
window.redirected = redirectResult();
window.sdkReady = true;
</script></body></html>`

// sdkOutcome is the page's window.result.
type sdkOutcome struct {
	OK *struct {
		Status, App, Config string
	}
	Err *struct {
		Name, Code, Message, App, Config, ProviderError, ProviderErrorDescription string
		Typed                                                                     bool
	}
}

// TestBrowserConnectSDK drives the connect SDK in Chromium, with its popup
// blocker on, from an app's page on another origin than Latchkey's, against
// a real Latchkey and a fake provider: a click connects a user in a popup
// and resolves with the result page's message; the provider's refusal, a
// popup the user closes, a timeout, a call outside a click (blocked popup)
// and an abort reject with their codes; on a phone, redirect mode sends the
// tab through the flow and back to the link's return_to, where
// redirectResult reads it.
func TestBrowserConnectSDK(t *testing.T) {
	ctx := newBrowser(t, chromedp.Flag("disable-popup-blocking", false))
	h := startLatchkey(t)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})

	// The app: its page, and its backend, which creates a popup link for
	// the signed-in user with its admin key, returning to /done.
	var app *httptest.Server
	app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/link" {
			body := fmt.Sprintf(`{"popup": true, "return_to": %q}`, app.URL+"/done")
			req, _ := http.NewRequestWithContext(r.Context(), "POST", h.main.URL+"/api/v1/apps/capacity/orgs/acme/users/"+
				url.PathEscape(r.URL.Query().Get("user"))+"/connections/example/link", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testAdminKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, strings.ReplaceAll(sdkAppPage, "SDK_URL", h.main.URL+"/sdk/connect.js"))
	}))
	t.Cleanup(app.Close)
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL(),
		`["https://app.example.com/integrations"]`, `["`+app.URL+`/done"]`).Replace(browserApp)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value"}`)

	browse(t, ctx, "open the app's page", chromedp.Navigate(app.URL+"/"), waitFor("window.sdkReady", nil, 10*time.Second))

	// outcome waits for the page's window.result.
	outcome := func(what string) sdkOutcome {
		t.Helper()
		var out sdkOutcome
		browse(t, ctx, what+": wait for the outcome", waitFor("window.result", &out, 30*time.Second))
		return out
	}
	// clickConnect sets the user and options, clicks Connect and returns
	// the popup's browser context.
	clickConnect := func(what, user, options string) context.Context {
		t.Helper()
		opened := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
		browse(t, ctx, what+": click Connect", setInput("#user", user), chromedp.Evaluate("window.options = "+options, nil),
			chromedp.Click("#connect", chromedp.ByQuery))
		select {
		case id := <-opened:
			pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
			t.Cleanup(cancel)
			return pctx
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no popup window opened", what)
			return nil
		}
	}
	// pages counts the browser's open pages.
	pages := func() int {
		t.Helper()
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, info := range infos {
			if info.Type == "page" {
				n++
			}
		}
		return n
	}

	// A click connects u-1 in a popup; the result page's message resolves
	// connect(), and the popup closes itself.
	popup := clickConnect("connect", "u-1", "{}")
	browse(t, popup, "allow in the popup", chromedp.WaitVisible(`//button[text()="Allow access"]`), chromedp.Click(`//button[text()="Allow access"]`))
	out := outcome("connect")
	if out.OK == nil || out.OK.Status != "connected" || out.OK.App != "capacity" || out.OK.Config != "example" {
		t.Fatalf("connect: got %+v (error %+v), want {connected capacity example}", out.OK, out.Err)
	}
	conn := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-1/connections/example", testAdminKey, "", ""))
	if conn["status"] != "active" {
		t.Errorf("connection of u-1: got status %v, want active", conn["status"])
	}
	waitPages := func(what string, want int) {
		t.Helper()
		for i := 0; i < 40 && pages() != want; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if got := pages(); got != want {
			t.Errorf("%s: got %d open pages, want %d", what, got, want)
		}
	}
	waitPages("after connecting", 1)

	// The provider refuses: connect() rejects with its error and
	// description.
	provider.DenyNext()
	popup = clickConnect("refused", "u-2", "{}")
	browse(t, popup, "allow in the popup", chromedp.WaitVisible(`//button[text()="Allow access"]`), chromedp.Click(`//button[text()="Allow access"]`))
	out = outcome("refused")
	if out.Err == nil || out.Err.Code != "provider_error" || out.Err.ProviderError != "access_denied" || out.Err.ProviderErrorDescription == "" ||
		!out.Err.Typed || out.Err.Name != "ConnectError" || out.Err.Config != "example" {
		t.Fatalf("refused: got %+v (result %+v), want a ConnectError provider_error with access_denied and its description", out.Err, out.OK)
	}
	t.Logf("refused: %s", out.Err.Message)

	// The user cancels on the landing page of a link the page already
	// holds (url as a string).
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-3/connections/example/link",
		testAdminKey, "application/json", `{"popup": true}`))
	popup = clickConnect("cancel", "u-3", `{url: "`+link["url"].(string)+`"}`)
	browse(t, popup, "cancel in the popup", chromedp.WaitVisible(`//button[text()="Cancel"]`), chromedp.Click(`//button[text()="Cancel"]`))
	if out = outcome("cancel"); out.Err == nil || out.Err.Code != "cancelled" {
		t.Fatalf("cancel: got %+v (result %+v), want code cancelled", out.Err, out.OK)
	}

	// The user closes the popup on the landing page.
	popup = clickConnect("close", "u-4", "{}")
	browse(t, popup, "see the landing page", chromedp.WaitVisible(`//button[text()="Allow access"]`))
	if err := chromedp.Cancel(popup); err != nil {
		t.Fatalf("closing the popup: %v", err)
	}
	if out = outcome("close"); out.Err == nil || out.Err.Code != "popup_closed" || !out.Err.Typed {
		t.Fatalf("closed popup: got %+v (result %+v), want code popup_closed", out.Err, out.OK)
	}

	// No result in time: connect() rejects and closes the popup.
	popup = clickConnect("timeout", "u-5", "{timeoutMs: 1500}")
	browse(t, popup, "see the landing page", chromedp.WaitVisible(`//button[text()="Allow access"]`))
	if out = outcome("timeout"); out.Err == nil || out.Err.Code != "timeout" {
		t.Fatalf("timeout: got %+v (result %+v), want code timeout", out.Err, out.OK)
	}
	waitPages("after the timeout", 1)

	// Aborted by the app: the same.
	popup = clickConnect("abort", "u-6", "{signal: AbortSignal.timeout(1500)}")
	browse(t, popup, "see the landing page", chromedp.WaitVisible(`//button[text()="Allow access"]`))
	if out = outcome("abort"); out.Err == nil || out.Err.Code != "aborted" {
		t.Fatalf("abort: got %+v (result %+v), want code aborted", out.Err, out.OK)
	}
	waitPages("after the abort", 1)

	// Outside a click the popup blocker stops the window: connect() says so.
	browse(t, ctx, "connect outside a click", chromedp.Evaluate(`window.options = {}; window.run()`, nil))
	if out = outcome("blocked"); out.Err == nil || out.Err.Code != "popup_blocked" {
		t.Fatalf("blocked popup: got %+v (result %+v), want code popup_blocked", out.Err, out.OK)
	}
	waitPages("after the blocked popup", 1)

	// On a phone connect() defaults to redirect mode: the tab goes through
	// the flow and comes back to the link's return_to, where redirectResult
	// reads the outcome.
	phone := emulation.SetUserAgentOverride("Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36").
		WithUserAgentMetadata(&emulation.UserAgentMetadata{Platform: "Android", PlatformVersion: "15", Model: "Pixel 9", Mobile: true})
	browse(t, ctx, "connect on a phone", phone, chromedp.Navigate(app.URL+"/"), waitFor("window.sdkReady", nil, 10*time.Second),
		setInput("#user", "u-7"), chromedp.Evaluate(`window.run()`, nil),
		chromedp.WaitVisible(`//button[text()="Allow access"]`), chromedp.Click(`//button[text()="Allow access"]`),
		waitFor(`location.pathname === "/done" && window.sdkReady`, nil, 20*time.Second))
	var back struct{ Status, Config string }
	var href string
	browse(t, ctx, "read the redirect's result", chromedp.Evaluate(`window.redirected`, &back), chromedp.Location(&href))
	if back.Status != "connected" || back.Config != "example" {
		t.Fatalf("redirect mode: got %+v at %s, want {connected example}", back, href)
	}
	conn = decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-7/connections/example", testAdminKey, "", ""))
	if conn["status"] != "active" {
		t.Errorf("connection of u-7: got status %v, want active", conn["status"])
	}
	h.assertNoLeak("s3cr3t-client-value")
}
