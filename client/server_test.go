package client_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/httpapi/openapi/openapitest"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/outbound"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/proxy"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
	"github.com/latchkey/latchkey/pkg/webhook"
)

// latchkeyServer is a real Latchkey (httpapi.Server on a real store, the
// flow engine and the webhook dispatcher) behind httptest, and an admin
// client of it.
type latchkeyServer struct {
	*httptest.Server
	clock *providertest.Clock
	admin *client.Client
	key   string // the admin key
}

// eachDatabase runs a scenario on SQLite and, when
// LATCHKEY_TEST_POSTGRES_URL is set, on PostgreSQL.
func eachDatabase(t *testing.T, run func(t *testing.T, databaseURL string)) {
	t.Run("sqlite", func(t *testing.T) { run(t, "") })
	t.Run("postgres", func(t *testing.T) { run(t, storetest.PostgresURL(t)) })
}

// startLatchkey starts Latchkey on databaseURL ("" for SQLite in a temp
// folder) with an admin API key.
func startLatchkey(tb testing.TB, databaseURL string) *latchkeyServer {
	tb.Helper()
	ctx := context.Background()
	key, err := secretbox.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	if databaseURL == "" {
		databaseURL = filepath.Join(tb.TempDir(), "latchkey.db")
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: databaseURL, Keyring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	clock := providertest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	// The fake providers and the webhook receiver listen on 127.0.0.1.
	hc := outbound.NewClient(10*time.Second, outbound.Options{AllowPrivate: true})
	hooks := webhook.New(webhook.Config{Store: st, HTTPClient: &http.Client{Timeout: 5 * time.Second}, PollInterval: 20 * time.Millisecond})
	hooks.Start()
	tb.Cleanup(hooks.Close)
	ts := httptest.NewUnstartedServer(nil)
	public := "http://" + ts.Listener.Addr().String()
	engine := flow.New(flow.Config{Store: st, HTTPClient: hc, Now: clock.Now, Events: hooks.Emit,
		CallbackURL: public + "/oauth/callback", ConnectURL: public + "/connect"})
	srv, err := httpapi.New(httpapi.Config{Engine: engine, Store: st, Now: clock.Now, WebhooksChanged: hooks.Forget,
		Proxy: &proxy.Proxy{Transport: hc.Transport}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	ts.Config.Handler = openapitest.Handler(tb, srv) // every exchange is checked against the OpenAPI document
	ts.Start()
	tb.Cleanup(ts.Close)
	rec, full, err := apikey.Generate(latchkey.ScopeAdmin, "", "client tests", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, rec); err != nil {
		tb.Fatal(err)
	}
	admin, err := client.New(ts.URL, client.WithAPIKey(full), client.WithHTTPClient(ts.Client()))
	if err != nil {
		tb.Fatal(err)
	}
	return &latchkeyServer{Server: ts, clock: clock, admin: admin, key: full}
}

// crmApp is an app of a generic fake provider ({{provider}} is its base
// URL): one OAuth config with an API base URL, a verify API that stores the
// user's id, and a declared API.
const crmApp = `
name: crm
label: CRM
allowed_return_urls: ["https://app.example.com/"]
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
  - {name: account_id, level: user}
oauth_configs:
  - name: example
    label: Example
    link_url: "{{provider}}/oauth/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}&response_type=code"
    token_url: "{{provider}}/oauth/token"
    client_auth: basic
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
    api_base_url: "{{provider}}/api"
    verify_api: me
    metadata:
      - {setting: account_id, from: verify, path: $.id}
apis:
  - name: me
    url: /me
`

// putCRM saves crmApp for provider and installs it for org acme.
func (s *latchkeyServer) putCRM(tb testing.TB, provider *providertest.Provider) {
	tb.Helper()
	ctx := context.Background()
	doc := strings.ReplaceAll(crmApp, "{{provider}}", provider.BaseURL())
	if _, err := s.admin.PutAppDocument(ctx, "crm", []byte(doc), "application/yaml", nil); err != nil {
		tb.Fatalf("PutAppDocument: %v", err)
	}
	if _, err := s.admin.PutInstallation(ctx, "crm", "acme", map[string]string{
		"client_id": providertest.DefaultClientID, "client_secret": providertest.DefaultClientSecret}); err != nil {
		tb.Fatalf("PutInstallation: %v", err)
	}
}

// connect walks a user's browser through a link made with the client: the
// landing page's Allow, the provider's consent, the callback.
func (s *latchkeyServer) connect(tb testing.TB, provider *providertest.Provider, key client.ConnectionKey) {
	tb.Helper()
	link, err := s.admin.CreateLink(context.Background(), key, &client.LinkOptions{ReturnTo: "https://app.example.com/done"})
	if err != nil {
		tb.Fatalf("CreateLink: %v", err)
	}
	if !strings.HasPrefix(link.URL, s.URL+"/connect/") || link.ExpiresAt.IsZero() {
		tb.Fatalf("got link %+v, want one to the landing page with an expiry", link)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.PostForm(link.URL, url.Values{})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("allow: got HTTP %d, want 303", resp.StatusCode)
	}
	cb := provider.Authorize(tb, resp.Header.Get("Location"))
	resp, err = browser.Get(s.URL + "/oauth/callback?" + cb.RawQuery)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		tb.Fatalf("callback: got HTTP %d, want success", resp.StatusCode)
	}
}
