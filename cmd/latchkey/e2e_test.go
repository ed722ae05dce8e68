package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi/openapitest"
	"github.com/latchkey/latchkey/pkg/providertest"
)

const testAdminKey = "test-admin-key-0123456789abcdef"

// seedCallback is the redirect URI that seed 002's request body names
// verbatim; the org installs it as its redirect_uri setting.
const seedCallback = "https://auth.capacity.com/v1/dev_oauth/callback"

// seedApp is the seed 002 walkthrough as an app document: three org-level
// settings, two user-level ones, and an OAuth config whose fields carry the
// seed's names and whose bodies are the seed's, verbatim.
const seedApp = `
name: capacity
label: Capacity
allowed_return_urls: ["https://app.example.com/integrations"]
settings:
  - {name: client_id, level: org, required: true, description: Client id issued by the provider}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: redirect_uri, level: org, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: example
    label: Example Provider
    logo_url: https://cdn.example.com/logo.png
    link_url: "{{provider}}/oauth/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}&response_type=code&scope=read"
    token_url: "{{provider}}/oauth/token"
    refresh_token_url: "{{provider}}/oauth/token"
    request_body: '{"grant_type":  "authorization_code", "redirect_uri": "https://auth.capacity.com/v1/dev_oauth/callback", "code": "{{auth_code}}", "client_id": {{client_id}}, "client_secret": {{client_secret}}}'
    refresh_token_body: '{"refresh_token": {{refresh_token}}, "grant_type": "refresh_token"}'
    extraction_path_auth_code: $.code
    extraction_path_access_token: $.access_token
    extraction_path_refresh_token: $.refresh_token
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

// harness is a running Latchkey with a fake clock, and a client for it.
type harness struct {
	tb    testing.TB
	main  *Main
	clock *providertest.Clock
	logs  *syncWriter
	// seen records every response: route, headers and body.
	seen []seenResponse
	// jar is the browser's cookies: do sends and keeps them, as a browser
	// would (the callback must come from the browser that pressed Allow).
	jar http.CookieJar
}

type seenResponse struct {
	method, path string
	header       http.Header
	body         []byte
}

// startLatchkey starts Latchkey on :0 with a temp data folder; options
// change its Config before it starts.
func startLatchkey(tb testing.TB, options ...func(*Config)) *harness {
	tb.Helper()
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	logs := &syncWriter{w: &bytes.Buffer{}}
	m := &Main{
		// The background refresh worker is off: tests count refreshes.
		// Fake providers listen on 127.0.0.1.
		Config: Config{Addr: "127.0.0.1:0", DataDir: tb.TempDir(), AdminAPIKey: testAdminKey, RefreshInterval: -1, AllowPrivateUpstreams: true},
		Now:    clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout: io.Discard,
		// Every request any client sends this server, and every answer,
		// is checked against the OpenAPI document.
		WrapHandler: checked(tb),
	}
	for _, o := range options {
		o(&m.Config)
	}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("Run: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return &harness{tb: tb, main: m, clock: clock, logs: logs, jar: newJar(tb)}
}

// checked wraps a test's server so that every exchange with it is checked
// against the OpenAPI document (openapitest.Handler). A benchmark's server
// is left unwrapped: the checker compiles schemas on every exchange and
// would be most of what a benchmark measured.
func checked(tb testing.TB) func(http.Handler) http.Handler {
	if _, bench := tb.(*testing.B); bench {
		return nil
	}
	return func(h http.Handler) http.Handler { return openapitest.Handler(tb, h) }
}

func newJar(tb testing.TB) http.CookieJar {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return jar
}

// otherBrowser returns a client of the same Latchkey with a cookie jar of
// its own: another person's browser.
func (h *harness) otherBrowser() *harness {
	o := *h
	o.jar, o.seen = newJar(h.tb), nil
	return &o
}

// do sends a request to Latchkey and returns the response and its body.
func (h *harness) do(method, path, key, contentType, body string) (*http.Response, []byte) {
	h.tb.Helper()
	req, err := http.NewRequest(method, h.main.URL+path, strings.NewReader(body))
	if err != nil {
		h.tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Jar: h.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		h.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h.seen = append(h.seen, seenResponse{method: method, path: path, header: resp.Header, body: b})
	return resp, b
}

// assertNoLeak fails when a secret appears in the log or in any response
// but those of the routes whose purpose is to return it (a connection's
// token, a setting's value), or in any URL a response redirects to.
func (h *harness) assertNoLeak(secrets ...string) {
	h.tb.Helper()
	logs := h.logs.String()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			h.tb.Errorf("a secret is in the server's log")
		}
		for _, r := range h.seen {
			tokenRoute := r.method == "GET" && (strings.Contains(r.path, "/settings/") || strings.Contains(r.path, "/connections/"))
			if strings.Contains(r.header.Get("Location"), s) {
				h.tb.Errorf("%s %s: a secret is in the Location header", r.method, r.path)
			}
			if !tokenRoute && bytes.Contains(r.body, []byte(s)) {
				h.tb.Errorf("%s %s: a secret is in the response", r.method, r.path)
			}
		}
	}
}

// expect sends a request and fails the test unless the status is want.
func (h *harness) expect(want int, method, path, key, contentType, body string) []byte {
	h.tb.Helper()
	resp, b := h.do(method, path, key, contentType, body)
	if resp.StatusCode != want {
		h.tb.Fatalf("%s %s: got HTTP %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return b
}

func decode(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("not JSON: %s", b)
	}
	return m
}

// TestSeed002Walkthrough drives the whole seed 002 walkthrough through the
// real server: declare the app, install it for an org, connect a user
// through the landing page and a provider, fetch the token, and read it again
// after it expired, refreshed on the way.
func TestSeed002Walkthrough(t *testing.T) {
	h := startLatchkey(t)
	provider := providertest.New(t, providertest.Options{
		ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value", Now: h.clock.Now,
		AccessTTL: time.Hour, RedirectURIs: []string{seedCallback},
	})
	doc := strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL())

	// Declare the app, as YAML.
	created := decode(t, h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc))
	if created["name"] != "capacity" {
		t.Fatalf("got app %v, want capacity", created["name"])
	}

	// Install it for an org; the secret comes back redacted.
	inst := h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value", "redirect_uri": "`+seedCallback+`"}`)
	if bytes.Contains(inst, []byte("s3cr3t-client-value")) || !bytes.Contains(inst, []byte(`"client_id":"capacity-client"`)) {
		t.Fatalf("got installation %s, want the client id shown and the secret redacted", inst)
	}

	// The app's backend asks for a link for user u-42.
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u-42/connections/example/link",
		testAdminKey, "application/json", `{"return_to": "https://app.example.com/integrations/done"}`))
	linkURL, _ := link["url"].(string)
	if !strings.HasPrefix(linkURL, h.main.URL+"/connect/") {
		t.Fatalf("got link %q, want one to the landing page", linkURL)
	}
	path := strings.TrimPrefix(linkURL, h.main.URL)

	// The landing page shows the config's label and logo, and a form.
	resp, page := h.do("GET", path, "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("landing page: got HTTP %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{"Example Provider", "https://cdn.example.com/logo.png", `method="post"`, "Allow access"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("landing page: got Referrer-Policy %q, want no-referrer", got)
	}

	// Allow access: 303 to the provider's link URL with state and PKCE.
	resp, _ = h.do("POST", path, "", "application/x-www-form-urlencoded", "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("allow: got HTTP %d, want 303", resp.StatusCode)
	}
	authURL, _ := url.Parse(resp.Header.Get("Location"))
	q := authURL.Query()
	for k, want := range map[string]string{"client_id": "capacity-client", "redirect_uri": seedCallback, "response_type": "code",
		"scope": "read", "code_challenge_method": "S256"} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize URL: got %s=%q, want %q", k, got, want)
		}
	}
	if q.Get("state") == "" || q.Get("code_challenge") == "" {
		t.Fatalf("authorize URL %s lacks state or code_challenge", authURL.Redacted())
	}
	if strings.Contains(authURL.String(), "s3cr3t-client-value") {
		t.Fatal("the client secret is in the authorize URL")
	}

	// The link was single use.
	if resp, _ := h.do("POST", path, "", "application/x-www-form-urlencoded", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second use of the link: got HTTP %d, want 404", resp.StatusCode)
	}

	// The user consents at the provider, which redirects to the seed's
	// callback URL; the browser lands on Latchkey's callback with the query.
	cb := provider.Authorize(t, authURL.String())
	resp, _ = h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://app.example.com/integrations/done?") {
		t.Fatalf("callback: got HTTP %d to %q, want 303 to the return URL", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The provider received every parameter of the seed's request body,
	// form-encoded (RFC 6749 §4.1.3), plus the PKCE verifier.
	exchanges := provider.RequestsTo(providertest.EndpointToken)
	if len(exchanges) != 1 {
		t.Fatalf("got %d token requests, want 1", len(exchanges))
	}
	form := exchanges[0].Form
	for k, want := range map[string]string{"grant_type": "authorization_code", "redirect_uri": seedCallback,
		"code": cb.Query().Get("code"), "client_id": "capacity-client", "client_secret": "s3cr3t-client-value"} {
		if got := form.Get(k); got != want {
			t.Errorf("token request: got %s=%q, want %q", k, got, want)
		}
	}
	if form.Get("code_verifier") == "" {
		t.Error("token request: no code_verifier")
	}

	// The backend fetches the token.
	resp, body := h.do("GET", "/api/v1/apps/capacity/orgs/acme/users/u-42/connections/example", testAdminKey, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch: got HTTP %d %s, want 200", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("fetch: got Cache-Control %q, want no-store", got)
	}
	conn := decode(t, body)
	access, _ := conn["access_token"].(string)
	if !provider.ValidAccessToken(access) || conn["status"] != "active" {
		t.Fatalf("fetch: got %v, want an active connection with a token the provider accepts", conn)
	}

	// Any setting resolves: the user's token, the org's client id.
	setting := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-42/settings/access_token", testAdminKey, "", ""))
	if setting["value"] != access || setting["level"] != "user" {
		t.Errorf("access_token setting: got %v, want the token at user level", setting)
	}
	setting = decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-42/settings/client_id", testAdminKey, "", ""))
	if setting["value"] != "capacity-client" || setting["level"] != "org" {
		t.Errorf("client_id setting: got %v, want the org's value", setting)
	}

	// Nothing secret is readable in the database files.
	assertNotInDataDir(t, h.main.Config.DataDir, access, "s3cr3t-client-value", form.Get("code_verifier"))

	// An hour later the token has expired: the fetch refreshes it first,
	// with the seed's refresh body (and the client's credentials).
	h.clock.Advance(61 * time.Minute)
	conn2 := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-42/connections/example", testAdminKey, "", ""))
	access2, _ := conn2["access_token"].(string)
	if access2 == access || !provider.ValidAccessToken(access2) {
		t.Fatalf("after expiry: got token valid=%v (same as before: %v), want a fresh valid one", provider.ValidAccessToken(access2), access2 == access)
	}
	if got := provider.RefreshCalls(); got != 1 {
		t.Fatalf("got %d refreshes at the provider, want 1", got)
	}
	rf := provider.RequestsTo(providertest.EndpointRefresh)[0].Form
	if rf.Get("grant_type") != "refresh_token" || rf.Get("refresh_token") == "" {
		t.Errorf("refresh request: got grant_type=%q and a refresh token present=%v", rf.Get("grant_type"), rf.Get("refresh_token") != "")
	}
	// A second read within the hour does not refresh again.
	h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/u-42/connections/example", testAdminKey, "", "")
	if got := provider.RefreshCalls(); got != 1 {
		t.Errorf("got %d refreshes after a second read, want still 1", got)
	}
	assertNotInDataDir(t, h.main.Config.DataDir, access2, rf.Get("refresh_token"))

	// Listings show no secret: the installations, the connections, the app.
	h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs", testAdminKey, "", "")
	h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/connections", testAdminKey, "", "")
	h.expect(http.StatusOK, "GET", "/api/v1/apps", testAdminKey, "", "")
	h.assertNoLeak(access, access2, "s3cr3t-client-value", rf.Get("refresh_token"),
		form.Get("code_verifier"), testAdminKey)
}

// assertNotInDataDir fails when any of the secrets appears in plain text in
// any file of the data folder (the SQLite database, its WAL, the key file).
func assertNotInDataDir(tb testing.TB, dir string, secrets ...string) {
	tb.Helper()
	var files []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		tb.Fatal("no file in the data folder")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, s := range secrets {
			if s != "" && bytes.Contains(b, []byte(s)) {
				tb.Errorf("%s holds a secret in plain text", filepath.Base(f))
			}
		}
	}
}
