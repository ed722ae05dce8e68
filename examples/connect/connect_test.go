package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/demoprovider"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/outbound"
	"github.com/latchkey/latchkey/pkg/proxy"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// chromiumPath is Debian's Chromium, as cmd/latchkey's browser tests use it.
const chromiumPath = "/usr/bin/chromium"

// startLatchkey starts a real Latchkey (the HTTP API on a SQLite store)
// and returns its URL and an admin key.
func startLatchkey(tb testing.TB) (string, string) {
	tb.Helper()
	ctx := context.Background()
	k, _ := secretbox.GenerateKey()
	ring, err := secretbox.NewKeyring(k)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(tb.TempDir(), "latchkey.db"), Keyring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ts := httptest.NewUnstartedServer(nil)
	public := "http://" + ts.Listener.Addr().String()
	// The demo provider listens on 127.0.0.1.
	hc := outbound.NewClient(10*time.Second, outbound.Options{AllowPrivate: true})
	engine := flow.New(flow.Config{Store: st, HTTPClient: hc, CallbackURL: public + "/oauth/callback", ConnectURL: public + "/connect"})
	srv, err := httpapi.New(httpapi.Config{Engine: engine, Store: st, Proxy: &proxy.Proxy{Transport: hc.Transport}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	ts.Config.Handler = srv
	ts.Start()
	tb.Cleanup(ts.Close)
	rec, full, err := apikey.Generate(latchkey.ScopeAdmin, "", "example test", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, rec); err != nil {
		tb.Fatal(err)
	}
	return ts.URL, full
}

// TestBrowserConnectExample clicks through the example as a new user
// would: the demo provider, Latchkey with configs/apps/demo.yaml applied
// through the Go client, and the example; sign in, Connect, allow in the
// popup, sign in at the provider and allow there, and see the declared
// API's answer.
func TestBrowserConnectExample(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must run the browser tests", chromiumPath)
		}
		t.Skipf("%s is missing: install Debian's chromium to run the browser test", chromiumPath)
	}
	ctx := context.Background()
	dp, err := demoprovider.New(demoprovider.Config{ClientID: demoprovider.QuickstartClientID, ClientSecret: demoprovider.QuickstartClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	provider := httptest.NewServer(dp)
	defer provider.Close()
	latchkeyURL, key := startLatchkey(t)
	exampleSrv := httptest.NewUnstartedServer(nil)
	exampleURL := "http://" + exampleSrv.Listener.Addr().String()

	// The demo app, on the addresses in use, as `latchkey apply` sends it.
	doc, err := os.ReadFile("../../configs/apps/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"LATCHKEY_DEMO_PROVIDER_URL": provider.URL, "LATCHKEY_PUBLIC_URL": latchkeyURL, "LATCHKEY_EXAMPLE_URL": exampleURL}
	doc, err = latchkey.ExpandVariables(doc, func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	lk, err := client.New(latchkeyURL, client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lk.PutAppDocument(ctx, "demo", doc, "application/yaml", nil); err != nil {
		t.Fatalf("applying configs/apps/demo.yaml: %v", err)
	}
	h, err := New(ctx, Config{Latchkey: lk, PublicURL: exampleURL, App: "demo", OAuthConfig: "demo", Org: "acme", API: "me"})
	if err != nil {
		t.Fatal(err)
	}
	exampleSrv.Config.Handler = h
	exampleSrv.Start()
	defer exampleSrv.Close()
	if _, err := lk.GetInstallation(ctx, "demo", "acme"); err != nil {
		t.Fatalf("the example did not install the demo app for acme: %v", err)
	}

	profile, err := os.MkdirTemp("", "latchkey-example-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Chromium's helpers may still write to the profile for a moment.
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelTimeout()
	defer chromedp.Cancel(bctx)
	browse := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	browse("sign in to the example", chromedp.Navigate(exampleURL+"/"), chromedp.WaitVisible("#name", chromedp.ByQuery),
		chromedp.SendKeys("#name", "alice", chromedp.ByQuery), chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitVisible("#user", chromedp.ByQuery), chromedp.Poll("window.exampleReady === true", nil, chromedp.WithPollingTimeout(10*time.Second)))

	opened := chromedp.WaitNewTarget(bctx, func(info *target.Info) bool { return info.Type == "page" })
	browse("press Connect", chromedp.Click("#connect", chromedp.ByQuery))
	var popup context.Context
	select {
	case id := <-opened:
		var cancel context.CancelFunc
		popup, cancel = chromedp.NewContext(bctx, chromedp.WithTargetID(id))
		defer cancel()
	case <-time.After(15 * time.Second):
		t.Fatal("Connect opened no popup")
	}
	inPopup := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(popup, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	inPopup("allow on Latchkey's landing page", chromedp.WaitVisible(`//button[text()="Allow access"]`), chromedp.Click(`//button[text()="Allow access"]`))
	inPopup("sign in at the demo provider", chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.SendKeys("#username", "alice", chromedp.ByQuery), chromedp.SendKeys("#password", demoprovider.DemoPassword, chromedp.ByQuery),
		chromedp.Submit("#password", chromedp.ByQuery))
	inPopup("allow at the demo provider", chromedp.WaitVisible(`//button[@value="allow"]`), chromedp.Click(`//button[@value="allow"]`))

	// The popup posts the result and closes; the page goes on to the
	// declared API's answer.
	var table, status string
	browse("see the API's answer", chromedp.WaitVisible("#fields", chromedp.ByQuery),
		chromedp.Text("#fields", &table, chromedp.ByQuery), chromedp.Text("#status", &status, chromedp.ByQuery))
	if status != "200" || !strings.Contains(table, "alice") || !strings.Contains(table, demoprovider.QuickstartClientID) {
		t.Fatalf("the result page: got HTTP %s and %q, want 200 and alice's fields from the demo provider", status, table)
	}
	tok, err := lk.Token(ctx, client.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "demo"})
	if err != nil || tok.Status != client.StatusActive {
		t.Fatalf("alice's connection: got %+v, %v; want it active", tok, err)
	}

	// A visitor who is not signed in gets no link.
	resp, err := http.Post(exampleURL+"/link", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a link without signing in: got HTTP %d, want 401", resp.StatusCode)
	}
}
