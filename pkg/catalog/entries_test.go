package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
	"github.com/latchkey/latchkey/pkg/template"
)

const callbackURL = "https://latchkey.test/oauth/callback"

// harness is one engine on one SQLite store with a manual clock, shared by
// every entry's check (each entry is its own app).
type harness struct {
	ctx    context.Context
	engine *flow.Engine
	store  *sqlstore.Store
	clock  *providertest.Clock
	// nonces are the browser nonces of the flows authorize started, by
	// state: what the person's browser keeps in a cookie.
	nonces sync.Map
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	return newHarnessAt(tb, filepath.Join(tb.TempDir(), "latchkey.db"))
}

// newHarnessAt is newHarness on the database at dsn: a SQLite file or a
// PostgreSQL URL.
func newHarnessAt(tb testing.TB, dsn string) *harness {
	tb.Helper()
	key, err := secretbox.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: dsn, Keyring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return (&harness{ctx: ctx, store: st}).withOwnClock()
}

// withOwnClock returns a harness on the same store with an engine and a
// clock of its own, so that entries checked in parallel do not move each
// other's time.
func (h *harness) withOwnClock() *harness {
	clock := providertest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	e := flow.New(flow.Config{Store: h.store, Now: clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect"})
	return &harness{ctx: h.ctx, engine: e, store: h.store, clock: clock}
}

func mustCatalog(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	c, err := catalog.Default()
	if err != nil {
		tb.Fatalf("Default: %v", err)
	}
	return c
}

// sampleValues are the org's values for an entry's org-level settings: the
// fake's client, and each other setting's default or "acme" (a subdomain,
// a tenant, a shop).
func sampleValues(app latchkey.App) map[string]string {
	vals := map[string]string{}
	flowSet := map[string]bool{}
	for _, c := range app.OAuthConfigs {
		flowSet[c.AccessTokenVariableName], flowSet[c.RefreshTokenVariableName] = true, true
		for _, m := range c.Metadata {
			flowSet[m.Setting] = true
		}
	}
	for _, s := range app.Settings {
		if s.Level != latchkey.LevelOrg || flowSet[s.Name] {
			continue
		}
		switch {
		case s.Name == "client_id":
			vals[s.Name] = providertest.DefaultClientID
		case s.Name == "client_secret":
			vals[s.Name] = providertest.DefaultClientSecret
		case s.Name == "redirect_uri":
			vals[s.Name] = callbackURL
		case s.Default != "":
			vals[s.Name] = s.Default
		default:
			vals[s.Name] = "acme"
		}
	}
	return vals
}

// TestEveryEntry checks each entry of the catalog, one table row per file
// of configs/providers: it compiles; its links render to the documented
// host with the right parameters; and each OAuth config runs end to end
// (link, callback, exchange, a verification call, a refused exchange,
// refresh, revocation) against a fake provider that enforces what the
// config declares. It runs on SQLite, and on PostgreSQL when
// LATCHKEY_TEST_POSTGRES_URL is set.
func TestEveryEntry(t *testing.T) {
	cat := mustCatalog(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var shared *harness
			if db == "postgres" {
				shared = newHarnessAt(t, storetest.PostgresURL(t))
			} else {
				shared = newHarness(t)
			}
			for _, e := range cat.List(catalog.Query{}) {
				t.Run(e.Name, func(t *testing.T) {
					t.Parallel()
					h := shared.withOwnClock()
					checkFacts(t, e)
					vals := sampleValues(e.App)
					checkLinks(t, h, e.App, vals)
					for i, cfg := range e.App.OAuthConfigs {
						t.Run(cfg.Name, func(t *testing.T) { runEndToEnd(t, h, e.App, i, vals) })
					}
				})
			}
		})
	}
}

// checkFacts checks what every entry must hold: a label, a category, an
// https documentation link, an API base URL and a verification call.
func checkFacts(t *testing.T, e *catalog.Entry) {
	t.Helper()
	if !strings.HasPrefix(e.DocsURL, "https://") {
		t.Errorf("docs_url: got %q, want an https link to the provider's documentation", e.DocsURL)
	}
	for _, cfg := range e.App.OAuthConfigs {
		if cfg.APIBaseURL == "" || cfg.VerifyAPI == "" {
			t.Errorf("%s: got api_base_url %q and verify_api %q, want both", cfg.Name, cfg.APIBaseURL, cfg.VerifyAPI)
			continue
		}
		var found bool
		for _, a := range e.App.APIs {
			if a.Name == cfg.VerifyAPI {
				found = true
				if !strings.HasPrefix(a.URL, "/") {
					t.Errorf("apis.%s: url %q: want a path joined to the api_base_url", a.Name, a.URL)
				}
			}
		}
		if !found {
			t.Errorf("%s: verify_api %q names no API of the entry", cfg.Name, cfg.VerifyAPI)
		}
		for field, u := range map[string]string{"link_url": cfg.LinkURL, "token_url": cfg.TokenURL,
			"revocation_url": cfg.RevocationURL, "api_base_url": cfg.APIBaseURL} {
			if u != "" && !strings.HasPrefix(u, "https://") {
				t.Errorf("%s.%s: got %q, want https", cfg.Name, field, u)
			}
		}
	}
}

// renderURL renders a URL template with vals.
func renderURL(t *testing.T, field, src string, vals map[string]string) *url.URL {
	t.Helper()
	tmpl, err := template.Compile(field, src, template.URL)
	if err != nil {
		t.Fatalf("%s: %v", field, err)
	}
	raw, err := tmpl.Render(vals)
	if err != nil {
		t.Fatalf("%s: %v", field, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// checkLinks saves the entry as it is and checks that each link goes to the
// host and path its link_url documents, with the client, the callback, the
// state, the scopes joined as declared, PKCE as declared and the extra
// parameters.
func checkLinks(t *testing.T, h *harness, app latchkey.App, vals map[string]string) {
	t.Helper()
	saved, err := h.engine.SaveApp(h.ctx, app)
	if err != nil {
		t.Fatalf("SaveApp: %v", err)
	}
	if _, err := h.store.PutInstallation(h.ctx, latchkey.Installation{App: saved.Name, Org: "acme", Values: vals}); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range saved.OAuthConfigs {
		if cfg.Grant() != latchkey.GrantAuthorizationCode {
			continue
		}
		key := latchkey.ConnectionKey{App: saved.Name, Org: "acme", User: "u1", Config: cfg.Name}
		got := authorize(t, h, key)
		withFlow := map[string]string{"redirect_uri": callbackURL, "state": "s", "scope": "s", "code_challenge": "c"}
		for k, v := range vals {
			withFlow[k] = v
		}
		want := renderURL(t, "link_url", cfg.LinkURL, withFlow)
		if got.Scheme != "https" || got.Host != want.Host || got.Path != want.Path {
			t.Errorf("%s: link: got %s://%s%s, want https://%s%s", cfg.Name, got.Scheme, got.Host, got.Path, want.Host, want.Path)
		}
		q := got.Query()
		sep := cfg.ScopeSeparator
		if sep == "" || sep == "+" {
			sep = " "
		}
		wantParams := map[string]string{"client_id": vals["client_id"], "response_type": "code", "redirect_uri": callbackURL}
		if len(cfg.Scopes) > 0 {
			wantParams["scope"] = strings.Join(cfg.Scopes, sep)
		}
		for k, v := range wantParams {
			if q.Get(k) != v && !strings.Contains(cfg.LinkURL, k+"=") {
				t.Errorf("%s: link: %s: got %q, want %q", cfg.Name, k, q.Get(k), v)
			}
		}
		if q.Get("state") == "" {
			t.Errorf("%s: link: no state", cfg.Name)
		}
		if has := q.Get("code_challenge") != ""; has != cfg.PKCEEnabled() {
			t.Errorf("%s: link: got a code_challenge %v, want %v (pkce)", cfg.Name, has, cfg.PKCEEnabled())
		}
		for k := range cfg.AuthParams {
			if q.Get(k) == "" {
				t.Errorf("%s: link: auth parameter %s: missing", cfg.Name, k)
			}
		}
	}
}

func authorize(t *testing.T, h *harness, key latchkey.ConnectionKey) *url.URL {
	t.Helper()
	link, err := h.engine.CreateLink(h.ctx, flow.LinkRequest{Key: key})
	if err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	auth, err := h.engine.Authorize(h.ctx, link.URL[strings.LastIndex(link.URL, "/")+1:])
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	h.nonces.Store(auth.State, auth.BrowserNonce)
	u, err := url.Parse(auth.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// callback is the provider's redirect back, from the browser that pressed
// Allow (it brings the flow's nonce).
func (h *harness) callback(cb url.Values) (flow.Result, error) {
	nonce, _ := h.nonces.Load(cb.Get("state"))
	s, _ := nonce.(string)
	return h.engine.Callback(h.ctx, cb, s)
}

// follow plays the browser at the provider: it GETs the authorization URL
// and returns the callback it redirects to.
func follow(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: got HTTP %d (%s), want a redirect to the callback", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// runEndToEnd runs config i of app against a Declared fake.
func runEndToEnd(t *testing.T, h *harness, app latchkey.App, i int, vals map[string]string) {
	orig := app.OAuthConfigs[i]
	fake, err := providertest.NewDeclared(t, &app, orig, providertest.DeclaredOptions{Values: vals, Now: h.clock.Now})
	if err != nil {
		t.Fatalf("the entry declares what the fake provider cannot enforce:\n%v", err)
	}
	defer func() {
		for _, p := range fake.Problems() {
			t.Errorf("the fake provider refused a request: %s", p)
		}
	}()
	// The same document, with this config's URLs leading to the fake.
	doc := app
	doc.Name = fmt.Sprintf("%.50s-e2e-%d", app.Name, i)
	doc.OAuthConfigs = append([]latchkey.OAuthConfig(nil), app.OAuthConfigs...)
	c := &doc.OAuthConfigs[i]
	for _, u := range []*string{&c.LinkURL, &c.TokenURL, &c.RefreshTokenURL, &c.RevocationURL, &c.APIBaseURL} {
		*u = fake.Rewrite(*u)
	}
	saved, err := h.engine.SaveApp(h.ctx, doc)
	if err != nil {
		t.Fatalf("SaveApp: %v", err)
	}
	if _, err := h.store.PutInstallation(h.ctx, latchkey.Installation{App: saved.Name, Org: "acme", Values: vals}); err != nil {
		t.Fatal(err)
	}
	cfg := saved.OAuthConfigs[i]
	key := latchkey.ConnectionKey{App: saved.Name, Org: "acme", User: "u1", Config: cfg.Name}

	if cfg.Grant() == latchkey.GrantClientCredentials {
		conn, err := h.engine.Token(h.ctx, latchkey.ConnectionKey{App: saved.Name, Org: "acme", Config: cfg.Name})
		if err != nil {
			t.Fatalf("client credentials: %v", err)
		}
		if status := verifyCall(t, h, conn.ConnectionKey); status != http.StatusOK {
			t.Fatalf("verification call: got HTTP %d, want 200", status)
		}
		return
	}

	// A refused exchange reports the provider's error as the config reads
	// it, and stores nothing.
	fake.FailNext("invalid_grant")
	refusedKey := key
	refusedKey.User = "u2"
	cb := follow(t, authorize(t, h, refusedKey).String())
	if _, err := h.callback(cb); providerCode(err) != "invalid_grant" {
		t.Fatalf("refused exchange: got %v, want the provider's invalid_grant", err)
	}

	start := h.clock.Now()
	res, err := h.callback(follow(t, authorize(t, h, key).String()))
	if err != nil {
		t.Fatalf("Callback: %v", err)
	}
	conn := res.Connection
	at := conn.Values[cfg.AccessTokenVariableName]
	if !fake.ValidAccessToken(at) {
		t.Fatalf("the stored access token is not the one the provider issued")
	}
	ttl := time.Hour
	switch {
	case cfg.DefaultExpiresIn > 0:
		ttl = time.Duration(cfg.DefaultExpiresIn)
	case cfg.RefreshTokenVariableName == "":
		ttl = 0
	}
	if ttl == 0 && !conn.ExpiresAt.IsZero() {
		t.Errorf("expiry: got %v, want none for a token without refresh", conn.ExpiresAt)
	}
	if want := start.Add(ttl); ttl > 0 && conn.ExpiresAt.Sub(want).Abs() > time.Second {
		t.Errorf("expiry: got %v, want %v", conn.ExpiresAt, want)
	}
	for _, m := range cfg.Metadata {
		if got := conn.Values[m.Setting]; got != "meta-"+m.Setting {
			t.Errorf("metadata %s: got %q, want the provider's value", m.Setting, got)
		}
	}
	// The callback ran the entry's check with the new token, before storing
	// it; it is run again through the engine's API path below.
	if v := res.Verification; cfg.VerifyAPI != "" && (v == nil || !v.OK) {
		t.Fatalf("the callback's check (%s): got %+v, want OK", cfg.VerifyAPI, v)
	}
	if status := verifyCall(t, h, key); status != http.StatusOK {
		t.Fatalf("verification call: got HTTP %d, want 200", status)
	}

	if rt := conn.Values[cfg.RefreshTokenVariableName]; rt != "" {
		h.clock.Advance(ttl + time.Minute)
		fresh, err := h.engine.Token(h.ctx, key)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fake.Count(providertest.EndpointRefresh) != 1 || !fake.ValidAccessToken(fresh.Values[cfg.AccessTokenVariableName]) {
			t.Fatalf("refresh: got %d refreshes, want one that gives a live token", fake.Count(providertest.EndpointRefresh))
		}
		if status := verifyCall(t, h, key); status != http.StatusOK {
			t.Fatalf("verification call after the refresh: got HTTP %d, want 200", status)
		}
		conn = fresh
	}

	if cfg.RevocationURL != "" {
		if err := h.engine.Disconnect(h.ctx, key, false); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
		if fake.Count(providertest.EndpointRevoke) != 1 || fake.ValidAccessToken(conn.Values[cfg.AccessTokenVariableName]) {
			t.Fatalf("revocation: got %d revocations and the token alive, want it revoked", fake.Count(providertest.EndpointRevoke))
		}
	}
}

// verifyCall runs the config's verify_api for the connection of key
// through the engine, as the verify route and the proxy do: the
// connection's credentials put on the API's request by the config's
// api_credentials, joined to its api_base_url. It returns the provider's
// status.
func verifyCall(t *testing.T, h *harness, key latchkey.ConnectionKey) int {
	t.Helper()
	v, err := h.engine.Verify(h.ctx, key)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !v.OK {
		t.Errorf("verification %s: %s", v.API, v.Error)
	}
	return v.Status
}

func providerCode(err error) string {
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Provider == nil {
		return ""
	}
	return le.Provider.Code
}

// tryFollow is follow that reports a refused authorization instead of
// failing.
func tryFollow(authURL string) (url.Values, bool) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil, false
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, false
	}
	return loc.Query(), true
}

func fstestFS(name, doc string) fstest.MapFS {
	return fstest.MapFS{name: {Data: []byte(doc)}}
}
