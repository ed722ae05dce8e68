package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/outbound"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
)

// callsApp declares an OAuth config with the provider's API base URL and
// a check (verify_api: me) whose answer fills account_id, and three APIs:
// me and items joined to the base URL (items takes a parameter), and
// seed-me, the seed's style: an absolute URL with its own Authorization.
const callsApp = `
name: calls
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
  - {name: account_id, level: user}
oauth_configs:
  - name: p
    link_url: "{{provider}}/oauth/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}&response_type=code"
    token_url: "{{provider}}/oauth/token"
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
    api_base_url: "{{provider}}/api"
    verify_api: me
    metadata:
      - {setting: account_id, from: verify, path: $.id}
apis:
  - name: me
    description: the signed-in user
    url: /me
  - name: items
    url: /items
    query: {page: '{{param "page"}}', per_page: "5"}
    params:
      - {name: page, required: true, description: the page to read}
  - name: seed-me
    method: GET
    url: "{{provider}}/api/me"
    headers:
      Authorization: "Bearer {{access_token}}"
`

// callsEnv is a Latchkey with the calls app installed for org acme and
// user alice connected to a fake provider.
type callsEnv struct {
	*harness
	provider *providertest.Provider
	base     string // the proxy route of alice's connection
}

type serverOptions struct {
	databaseURL, keys string
	strict            bool // private upstreams refused
	quiet             bool // no log (benchmarks)
	noTraces          bool // LATCHKEY_TRACES=off
	resolve           func(ctx context.Context, host string) ([]netip.Addr, error)
}

// startServer starts a Latchkey as startLatchkey does, with options.
func startServer(tb testing.TB, o serverOptions) *harness {
	tb.Helper()
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	logs := &syncWriter{w: &bytes.Buffer{}}
	m := &Main{WrapHandler: checked(tb),
		Config: Config{Addr: "127.0.0.1:0", DataDir: tb.TempDir(), AdminAPIKey: testAdminKey, RefreshInterval: -1,
			DatabaseURL: o.databaseURL, EncryptionKeys: o.keys, AllowPrivateUpstreams: !o.strict, NoTraces: o.noTraces},
		Now:    clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout: io.Discard,
	}
	if o.quiet {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if o.resolve != nil {
		m.HTTPClient = outbound.NewClient(30*time.Second, outbound.Options{AllowPrivate: !o.strict, Resolve: o.resolve})
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

func newCallsEnv(tb testing.TB, h *harness, popts providertest.Options) *callsEnv {
	tb.Helper()
	p := providertest.New(tb, popts)
	env := &callsEnv{harness: h, provider: p, base: "/api/v1/apps/calls/orgs/acme/users/alice/connections/p/proxy"}
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml",
		strings.ReplaceAll(callsApp, "{{provider}}", p.URL))
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/calls/orgs/acme/settings", testAdminKey, "application/json",
		fmt.Sprintf(`{"client_id": %q, "client_secret": %q}`, p.ClientID(), p.ClientSecret()))
	env.connect("alice")
	return env
}

// connect connects user through a link, the landing page, the provider
// and the callback.
func (env *callsEnv) connect(user string) {
	h := env.harness
	h.tb.Helper()
	link := decode(h.tb, h.expect(http.StatusCreated, "POST", "/api/v1/apps/calls/orgs/acme/users/"+user+"/connections/p/link",
		testAdminKey, "application/json", `{}`))
	resp, _ := h.do("POST", strings.TrimPrefix(link["url"].(string), h.main.URL), "", "application/x-www-form-urlencoded", "")
	cb := env.provider.Authorize(h.tb, resp.Header.Get("Location"))
	if resp, b := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode >= 400 {
		h.tb.Fatalf("callback: got HTTP %d %s, want success", resp.StatusCode, b)
	}
}

// call sends a request through Latchkey with extra headers.
func (h *harness) call(method, path, body string, header map[string]string) (*http.Response, []byte) {
	h.tb.Helper()
	req, err := http.NewRequest(method, h.main.URL+path, strings.NewReader(body))
	if err != nil {
		h.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		h.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h.seen = append(h.seen, seenResponse{method: method, path: path, header: resp.Header, body: b})
	return resp, b
}

func wantStatus(tb testing.TB, resp *http.Response, body []byte, want int) {
	tb.Helper()
	if resp.StatusCode != want {
		tb.Fatalf("%s %s: got HTTP %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, want)
	}
}

func (env *callsEnv) accessToken(user string) string {
	env.tb.Helper()
	conn := decode(env.tb, env.expect(http.StatusOK, "GET", "/api/v1/apps/calls/orgs/acme/users/"+user+"/connections/p", testAdminKey, "", ""))
	return conn["access_token"].(string)
}

func TestProxyCallsTheProviderWithTheConnectionsCredentials(t *testing.T) {
	env := newCallsEnv(t, startLatchkey(t), providertest.Options{})
	token := env.accessToken("alice")

	resp, body := env.call("GET", env.base+"/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if me := decode(t, body); me["id"] != providertest.DefaultUser {
		t.Fatalf("got %s, want the provider's user", body)
	}
	if got := resp.Header.Get("Latchkey-Retries"); got != "0" {
		t.Errorf("Latchkey-Retries: got %q, want 0", got)
	}
	if resp.Header.Get("Latchkey-Error") != "" {
		t.Errorf("a provider's answer carries Latchkey-Error")
	}

	// The caller's headers and query travel; its API key, cookies and
	// forwarding headers do not, and it cannot replace the credentials.
	resp, body = env.call("POST", env.base+"/echo/a%20b/c?x=1&y=two", `{"hello": "world"}`, map[string]string{
		"X-Custom": "kept", "Cookie": "latchkey_session=abc", "X-Forwarded-For": "10.1.2.3", "Latchkey-Retry": "false",
		"Content-Type": "application/json"})
	wantStatus(t, resp, body, http.StatusOK)
	var echo struct {
		Method    string              `json:"method"`
		Path      string              `json:"path"`
		Query     map[string][]string `json:"query"`
		Header    http.Header         `json:"header"`
		BodyBytes int                 `json:"body_bytes"`
	}
	if err := json.Unmarshal(body, &echo); err != nil {
		t.Fatal(err)
	}
	if echo.Method != "POST" || echo.Path != "/api/echo/a%20b/c" || echo.Query["y"][0] != "two" || echo.BodyBytes != 18 {
		t.Fatalf("the provider received %s, want POST /api/echo/a%%20b/c?x=1&y=two with the body", body)
	}
	if got := echo.Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization: got %q, want the connection's token", got)
	}
	for _, h := range []string{"Cookie", "X-Forwarded-For", "Latchkey-Retry"} {
		if echo.Header.Get(h) != "" {
			t.Errorf("the caller's %s reached the provider", h)
		}
	}
	if echo.Header.Get("X-Custom") != "kept" {
		t.Errorf("the caller's X-Custom did not reach the provider")
	}

	// HEAD, PATCH, DELETE and OPTIONS go through; TRACE does not.
	for _, m := range []string{"PATCH", "DELETE", "OPTIONS"} {
		resp, body := env.call(m, env.base+"/echo/m", "", nil)
		if resp.StatusCode != http.StatusOK || decode(t, body)["method"] != m {
			t.Errorf("%s: got HTTP %d %s, want the provider's echo", m, resp.StatusCode, body)
		}
	}
	if resp, _ := env.call("HEAD", env.base+"/me", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD: got HTTP %d, want 200", resp.StatusCode)
	}
	if resp, _ := env.call("TRACE", env.base+"/echo/m", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("TRACE: got HTTP %d, want 405", resp.StatusCode)
	}

	// A runtime key of the app can call; one of another app cannot.
	env.expect(http.StatusCreated, "PUT", "/api/v1/apps/other", testAdminKey, "application/yaml",
		strings.Replace(strings.ReplaceAll(callsApp, "{{provider}}", env.provider.URL), "name: calls", "name: other", 1))
	for app, want := range map[string]int{"calls": http.StatusOK, "other": http.StatusForbidden} {
		created := decode(t, env.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json",
			`{"scope": "runtime", "app": "`+app+`"}`))
		key, _ := created["key"].(string)
		if key == "" {
			t.Fatalf("apikeys: got %v, want a key", created)
		}
		for _, path := range []string{env.base + "/me", "/api/v1/apps/calls/orgs/acme/users/alice/apis/me"} {
			method := map[bool]string{true: "GET", false: "POST"}[strings.Contains(path, "/proxy/")]
			resp, body := env.do(method, path, key, "", "")
			if resp.StatusCode != want {
				t.Errorf("%s %s with a runtime key of %s: got HTTP %d %s, want %d", method, path, app, resp.StatusCode, body, want)
			}
		}
	}

	// The provider's redirects come back, not followed, even to a metadata
	// address.
	to := "http://169.254.169.254/latest/meta-data/"
	resp, _ = env.call("GET", env.base+"/redirect?to="+url.QueryEscape(to), "", nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != to {
		t.Fatalf("redirect: got HTTP %d to %q, want 302 to %s, passed back", resp.StatusCode, resp.Header.Get("Location"), to)
	}

	// Paths that would climb out of the base URL are refused before any
	// request; so is a connection that does not exist.
	before := len(env.provider.RequestsTo(providertest.EndpointAPI))
	for _, p := range []string{"/../oauth/token", "/%2e%2e/oauth/token", "/me/..", "/a%2F..%2F..%2Foauth", "/a%5c..%5coauth", "/./me"} {
		resp, body := env.call("GET", env.base+p, "", nil)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Latchkey-Error") == "" {
			t.Errorf("GET proxy%s: got HTTP %d %s, want Latchkey's 400", p, resp.StatusCode, body)
		}
	}
	resp, body = env.call("GET", "/api/v1/apps/calls/orgs/acme/users/nobody/connections/p/proxy/me", "", nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Latchkey-Error") != latchkey.ENOTFOUND {
		t.Errorf("no connection: got HTTP %d %s (Latchkey-Error %q), want Latchkey's 404", resp.StatusCode, body, resp.Header.Get("Latchkey-Error"))
	}
	if after := len(env.provider.RequestsTo(providertest.EndpointAPI)); after != before {
		t.Errorf("refused calls reached the provider: %d requests, want %d", after, before)
	}

	// One audit event per call, naming the path and the status, never a
	// token; the metrics count the calls by status class.
	var audit string
	for range 30 { // the audit log writes its queue every second
		if audit = string(env.expect(http.StatusOK, "GET", "/api/v1/audit?app=calls&action=proxy.call", testAdminKey, "", "")); strings.Contains(audit, "GET /me") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(audit, "GET /me") || !strings.Contains(audit, "200") || strings.Contains(audit, token) {
		t.Errorf("audit: got %s, want an event naming GET /me and 200, without the token", audit)
	}
	resp, metrics := env.do("GET", "/metrics", testAdminKey, "", "")
	wantStatus(t, resp, metrics, http.StatusOK)
	if !strings.Contains(string(metrics), `latchkey_api_calls_total{app="calls",class="2xx",config="p",kind="proxy"}`) {
		t.Errorf("metrics: no latchkey_api_calls_total for the proxied calls")
	}
	if strings.Contains(env.logs.String(), token) {
		t.Errorf("the token is in the server's log")
	}
}

func TestProxyRefreshesOnceWhenTheProviderRefusesTheToken(t *testing.T) {
	env := newCallsEnv(t, startLatchkey(t), providertest.Options{})
	old := env.accessToken("alice")

	// The provider revokes its access tokens before their expiry: the call
	// meets a 401, Latchkey refreshes and replays it once.
	env.provider.RevokeAccessTokens()
	resp, body := env.call("PUT", env.base+"/upload", "a small body is replayed", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if resp.Header.Get("Latchkey-Token-Refreshed") != "true" || resp.Header.Get("Latchkey-Replayed") != "true" {
		t.Errorf("got headers %v, want Latchkey-Token-Refreshed and Latchkey-Replayed true", resp.Header)
	}
	if got := decode(t, body)["bytes"]; got != float64(24) {
		t.Errorf("the replayed body: got %v bytes, want 24", got)
	}
	if n := env.provider.RefreshCalls(); n != 1 {
		t.Fatalf("got %d refreshes, want 1", n)
	}
	if now := env.accessToken("alice"); now == old || !env.provider.ValidAccessToken(now) {
		t.Fatalf("the stored token was not replaced by a live one")
	}

	// An API that keeps answering 401: one refresh, one replay, and the
	// provider's 401 is passed back; never a loop.
	resp, body = env.call("GET", env.base+"/answer?status=401&body=%7B%22error%22%3A%22nope%22%7D", "", nil)
	if resp.StatusCode != http.StatusUnauthorized || string(body) != `{"error":"nope"}` || resp.Header.Get("Latchkey-Error") != "" {
		t.Fatalf("got HTTP %d %s, want the provider's own 401", resp.StatusCode, body)
	}
	if n := env.provider.RefreshCalls(); n != 2 {
		t.Fatalf("got %d refreshes in all, want 2 (one per call that met a 401)", n)
	}

	// A body too large to replay is streamed once: its 401 comes back,
	// marked, and the token is refreshed for the next call.
	env.provider.RevokeAccessTokens()
	big := strings.Repeat("x", 2<<20)
	resp, body = env.call("PUT", env.base+"/upload", big, nil)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Latchkey-Token-Refreshed") != "true" || resp.Header.Get("Latchkey-Replayed") != "false" {
		t.Fatalf("got HTTP %d %v, want the 401 passed back with Latchkey-Token-Refreshed: true, Latchkey-Replayed: false", resp.StatusCode, resp.Header)
	}
	resp, body = env.call("PUT", env.base+"/upload", big, nil)
	wantStatus(t, resp, body, http.StatusOK)
	if got := decode(t, body)["bytes"]; got != float64(2<<20) {
		t.Errorf("got %v bytes at the provider, want %d", got, 2<<20)
	}

	// A refresh the provider refuses leaves the connection needs_reauth;
	// from then on Latchkey answers 409 without calling the provider.
	env.provider.RevokeAll()
	resp, _ = env.call("GET", env.base+"/me", "", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got HTTP %d, want the provider's 401", resp.StatusCode)
	}
	before := len(env.provider.RequestsTo(providertest.EndpointAPI))
	resp, body = env.call("GET", env.base+"/me", "", nil)
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Latchkey-Error") != latchkey.ENEEDSREAUTH {
		t.Fatalf("got HTTP %d %s, want Latchkey's 409 needs_reauth", resp.StatusCode, body)
	}
	if len(env.provider.RequestsTo(providertest.EndpointAPI)) != before {
		t.Fatalf("a connection needing the user called the provider")
	}
}

// TestProxyTokenExpiredConditionOnTheBody: an API that answers 200 with an
// error body is read with the config's condition.
func TestProxyTokenExpiredConditionOnTheBody(t *testing.T) {
	h := startLatchkey(t)
	env := newCallsEnv(t, h, providertest.Options{})
	doc := strings.ReplaceAll(callsApp, "{{provider}}", env.provider.URL)
	doc = strings.Replace(doc, "    verify_api: me\n", "    verify_api: me\n    api_calls:\n      token_expired_condition: '$.error == \"token_expired\"'\n", 1)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml", doc)
	time.Sleep(10 * time.Millisecond)
	q := "/answer?status=200&body=" + url.QueryEscape(`{"ok": false, "error": "token_expired"}`)
	resp, body := env.call("GET", env.base+q, "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Latchkey-Token-Refreshed") != "true" || !strings.Contains(string(body), "token_expired") {
		t.Fatalf("got HTTP %d %s %v, want the answer after one refresh", resp.StatusCode, body, resp.Header)
	}
	if n := env.provider.RefreshCalls(); n != 1 {
		t.Fatalf("got %d refreshes, want 1", n)
	}
}

func TestProxyRetriesIdempotentCallsWithTheProvidersLimits(t *testing.T) {
	env := newCallsEnv(t, startLatchkey(t), providertest.Options{})

	// 503 twice, then an answer: a GET is retried with backoff.
	env.provider.FailNext(2, providertest.Failure{Kind: providertest.KindStatus, Status: 503, On: providertest.EndpointAPI})
	resp, body := env.call("GET", env.base+"/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if got := resp.Header.Get("Latchkey-Retries"); got != "2" {
		t.Errorf("Latchkey-Retries: got %q, want 2", got)
	}

	// 429 with Retry-After: 1 is waited out.
	env.provider.FailNext(1, providertest.Failure{Kind: providertest.KindStatus, Status: 429, RetryAfter: time.Second, On: providertest.EndpointAPI})
	start := time.Now()
	resp, body = env.call("GET", env.base+"/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("answered after %s, want Retry-After's second honoured", waited)
	}

	// A POST is not retried unless the caller asks.
	env.provider.FailNext(1, providertest.Failure{Kind: providertest.KindStatus, Status: 503, On: providertest.EndpointAPI})
	resp, _ = env.call("POST", env.base+"/echo/x", "{}", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Latchkey-Retries") != "0" {
		t.Fatalf("POST: got HTTP %d with %s retries, want the 503 passed back, not retried", resp.StatusCode, resp.Header.Get("Latchkey-Retries"))
	}
	env.provider.FailNext(1, providertest.Failure{Kind: providertest.KindStatus, Status: 503, On: providertest.EndpointAPI})
	resp, body = env.call("POST", env.base+"/echo/x", "{}", map[string]string{"Latchkey-Retry": "true"})
	wantStatus(t, resp, body, http.StatusOK)

	// A reset connection is a network error: retried for a GET.
	env.provider.FailNext(1, providertest.Failure{Kind: providertest.KindReset, On: providertest.EndpointAPI})
	resp, body = env.call("GET", env.base+"/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)

	// A Retry-After longer than the caller's deadline ends the call with
	// the provider's 429; a slow answer past the deadline is Latchkey's 504.
	resp, _ = env.call("GET", env.base+"/limited?retry_after=60", "", map[string]string{"Latchkey-Timeout": "5"})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("got HTTP %d, want the provider's 429 with its Retry-After", resp.StatusCode)
	}
	start = time.Now()
	resp, body = env.call("GET", env.base+"/slow?delay=10s", "", map[string]string{"Latchkey-Timeout": "200ms"})
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Latchkey-Error") != "timeout" || time.Since(start) > 3*time.Second {
		t.Fatalf("got HTTP %d %s after %s, want Latchkey's 504 timeout at the deadline", resp.StatusCode, body, time.Since(start))
	}
	resp, body = env.call("GET", env.base+"/me", "", map[string]string{"Latchkey-Timeout": "soon"})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "Latchkey-Timeout") {
		t.Fatalf("a bad deadline: got HTTP %d %s, want 422 naming the header", resp.StatusCode, body)
	}
}

func TestDeclaredAPIs(t *testing.T) {
	env := newCallsEnv(t, startLatchkey(t), providertest.Options{})
	apis := "/api/v1/apps/calls/orgs/acme/users/alice/apis/"

	// The check ran when alice connected and stored her account id.
	setting := decode(t, env.expect(http.StatusOK, "GET", "/api/v1/apps/calls/orgs/acme/users/alice/settings/account_id", testAdminKey, "", ""))
	if setting["value"] != providertest.DefaultUser {
		t.Fatalf("account_id: got %v, want %s captured by verify_api", setting, providertest.DefaultUser)
	}
	v := decode(t, env.expect(http.StatusOK, "POST", "/api/v1/apps/calls/orgs/acme/users/alice/connections/p/verify", testAdminKey, "", ""))
	if v["ok"] != true || v["status"] != float64(200) {
		t.Fatalf("verify: got %v, want ok", v)
	}

	resp, body := env.call("POST", apis+"me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if decode(t, body)["id"] != providertest.DefaultUser || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("me: got %s (%s), want the provider's user as JSON", body, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Pragma") != "" {
		t.Errorf("a declared API passed back the provider's Pragma; only safe headers come back")
	}
	resp, body = env.call("POST", apis+"seed-me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)

	resp, body = env.call("POST", apis+"items", `{"page": 2}`, map[string]string{"Content-Type": "application/json"})
	wantStatus(t, resp, body, http.StatusOK)
	page := decode(t, body)
	if items := page["items"].([]any); len(items) != 5 || items[0].(map[string]any)["id"] != "item-06" || page["next_page"] != float64(3) {
		t.Fatalf("items page 2: got %s", body)
	}
	if !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("the provider's Link header did not come back")
	}

	for _, c := range []struct{ body, field string }{{`{}`, "page"}, {`{"page": 1, "admin": true}`, "admin"}, {`{"page": {"x": 1}}`, "page"}} {
		resp, body := env.call("POST", apis+"items", c.body, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("params %s: got HTTP %d %s, want 422 naming %s", c.body, resp.StatusCode, body, c.field)
		}
	}
	resp, _ = env.call("POST", apis+"nope", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown API: got HTTP %d, want 404", resp.StatusCode)
	}

	// A declared API meets a revoked token like a proxied call: one refresh.
	env.provider.RevokeAccessTokens()
	resp, body = env.call("POST", apis+"seed-me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if resp.Header.Get("Latchkey-Token-Refreshed") != "true" || env.provider.RefreshCalls() != 1 {
		t.Fatalf("got %v after %d refreshes, want one refresh", resp.Header, env.provider.RefreshCalls())
	}

	// The document is compiled when saved: a parameter or a setting that
	// does not exist is a 422 naming the field.
	doc := strings.ReplaceAll(callsApp, "{{provider}}", env.provider.URL)
	for _, c := range []struct{ old, new, field string }{
		{`url: /me`, `url: /me/{{param "who"}}`, "apis[0].url"},
		{`per_page: "5"`, `per_page: "{{page_size}}"`, "apis[1].query.per_page"},
		{`Authorization: "Bearer {{access_token}}"`, `Authorization: "Bearer {{param \"access_token\"}}"`, "apis[2].headers.Authorization"},
		{`verify_api: me`, `verify_api: items`, "oauth_configs[0].verify_api"},
		{`url: /me`, "url: /me\n    oauth_config: q", "apis[0].oauth_config"},
	} {
		bad := strings.Replace(doc, c.old, c.new, 1)
		resp, body := env.do("PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml", bad)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("%s: got HTTP %d %s, want 422 naming %s", c.new, resp.StatusCode, body, c.field)
		}
	}
}

// TestUpstreamsOnPrivateAddressesAreRefused runs a server without
// --allow-private-upstreams: a provider on 127.0.0.1, and a host name that
// resolves to it (a rebinding host), are refused on the address dialled.
func TestUpstreamsOnPrivateAddressesAreRefused(t *testing.T) {
	rebind := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "rebind.example.com" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, fmt.Errorf("no such host")
	}
	h := startServer(t, serverOptions{strict: true, resolve: rebind})
	p := providertest.New(t, providertest.Options{})
	port := p.Listener.Addr().String()
	port = port[strings.LastIndex(port, ":")+1:]
	for _, c := range []struct{ name, base string }{
		{"loopback", p.URL + "/api"},
		{"rebinding", "http://rebind.example.com:" + port + "/api"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.ReplaceAll(callsApp, "{{provider}}", strings.TrimSuffix(c.base, "/api"))
			h.expect(http.StatusCreated, "PUT", "/api/v1/apps/calls-"+c.name, testAdminKey, "application/yaml",
				strings.Replace(doc, "name: calls", "name: calls-"+c.name, 1))
			// The user cannot connect: the token request is refused too.
			st := h.main.Store()
			key := latchkey.ConnectionKey{App: "calls-" + c.name, Org: "acme", User: "alice", Config: "p"}
			if _, err := st.PutConnection(context.Background(), latchkey.Connection{ConnectionKey: key, Status: latchkey.StatusActive,
				ExpiresAt: h.clock.Now().Add(time.Hour), Values: map[string]string{"access_token": "at-1", "refresh_token": "rt-1"}}); err != nil {
				t.Fatal(err)
			}
			before := len(p.Requests())
			resp, body := h.call("GET", "/api/v1/apps/calls-"+c.name+"/orgs/acme/users/alice/connections/p/proxy/me", "", nil)
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Latchkey-Error") != "upstream_not_allowed" {
				t.Fatalf("proxy: got HTTP %d %s, want Latchkey's 502 upstream_not_allowed", resp.StatusCode, body)
			}
			resp, body = h.call("POST", "/api/v1/apps/calls-"+c.name+"/orgs/acme/users/alice/apis/seed-me", "", nil)
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Latchkey-Error") != "upstream_not_allowed" {
				t.Fatalf("declared API: got HTTP %d %s, want Latchkey's 502 upstream_not_allowed", resp.StatusCode, body)
			}
			// A refresh of the expired token goes nowhere either.
			h.clock.Advance(2 * time.Hour)
			resp, body = h.call("GET", "/api/v1/apps/calls-"+c.name+"/orgs/acme/users/alice/connections/p", "", nil)
			if resp.StatusCode < 400 {
				t.Fatalf("refresh: got HTTP %d %s, want a refusal", resp.StatusCode, body)
			}
			if n := len(p.Requests()); n != before {
				t.Fatalf("the provider on a private address received %d requests, want none", n-before)
			}
		})
	}
}

// TestOneRefreshFor1000CallersMeetingA401: every caller meets the
// provider's 401 at once; one refresh serves them all, on one server and on
// two servers sharing PostgreSQL.
func TestOneRefreshFor1000CallersMeetingA401(t *testing.T) {
	storm := func(t *testing.T, servers []*harness, p *providertest.Provider) {
		old := p.RefreshCalls()
		p.RevokeAccessTokens()
		const callers = 1000
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 200}}
		start := time.Now()
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := servers[i%len(servers)]
				req, _ := http.NewRequest("GET", h.main.URL+"/api/v1/apps/calls/orgs/acme/users/alice/connections/p/proxy/me", nil)
				req.Header.Set("Authorization", "Bearer "+testAdminKey)
				status := 0
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		t.Logf("%d callers on %d servers: %v in %s", callers, len(servers), statuses, time.Since(start))
		if statuses[http.StatusOK] != callers {
			t.Fatalf("got statuses %v, want %d × 200", statuses, callers)
		}
		if n := p.RefreshCalls() - old; n != 1 {
			t.Fatalf("got %d refreshes at the provider, want exactly 1", n)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		env := newCallsEnv(t, startLatchkey(t), providertest.Options{})
		storm(t, []*harness{env.harness}, env.provider)
	})
	t.Run("postgres-two-servers", func(t *testing.T) {
		dbURL := testPostgres(t)
		key, err := secretbox.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		a := startServer(t, serverOptions{databaseURL: dbURL, keys: key.String()})
		b := startServer(t, serverOptions{databaseURL: dbURL, keys: key.String()})
		env := newCallsEnv(t, a, providertest.Options{})
		storm(t, []*harness{a, b}, env.provider)
	})
}

// testPostgres returns the URL of a fresh schema at
// LATCHKEY_TEST_POSTGRES_URL, dropped when the test ends, or skips.
func testPostgres(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("LATCHKEY_TEST_POSTGRES_URL")
	if base == "" {
		tb.Skip("LATCHKEY_TEST_POSTGRES_URL is not set")
	}
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		tb.Fatalf("connecting to PostgreSQL: %v", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "latchkey_proxy_" + hex.EncodeToString(suffix)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if db, err := admin.DB(); err == nil {
			db.Close()
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestWebhookToALoopbackAddressNeedsTheFlag: a loopback webhook URL is
// accepted, but without --allow-private-upstreams its deliveries are
// refused on the address dialled and recorded as failed attempts.
func TestWebhookToALoopbackAddressNeedsTheFlag(t *testing.T) {
	h := startServer(t, serverOptions{strict: true})
	var mu sync.Mutex
	received := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml",
		strings.ReplaceAll(callsApp, "{{provider}}", "https://provider.example.com"))
	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/calls/webhooks", testAdminKey, "application/json",
		`{"url": "`+recv.URL+`"}`))
	id := created["webhook"].(map[string]any)["id"].(string)
	key := latchkey.ConnectionKey{App: "calls", Org: "acme", User: "alice", Config: "p"}
	if _, err := h.main.Store().PutConnection(context.Background(), latchkey.Connection{ConnectionKey: key, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "at-1"}}); err != nil {
		t.Fatal(err)
	}
	h.expect(http.StatusNoContent, "DELETE", "/api/v1/apps/calls/orgs/acme/users/alice/connections/p", testAdminKey, "", "")
	var log string
	for range 100 {
		log = string(h.expect(http.StatusOK, "GET", "/api/v1/apps/calls/webhooks/"+id+"/deliveries", testAdminKey, "", ""))
		if strings.Contains(log, "not allowed") || strings.Contains(log, "refusing") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(log, "refusing") && !strings.Contains(log, "not allowed") {
		t.Fatalf("deliveries: got %s, want an attempt refused for its loopback address", log)
	}
	mu.Lock()
	defer mu.Unlock()
	if received != 0 {
		t.Fatalf("the loopback receiver got %d deliveries, want none", received)
	}
}

// TestProxyHonoursTheConfigsRateLimitResetHeader: a config's reset header,
// in seconds or as an epoch, sets the wait before a retry.
func TestProxyHonoursTheConfigsRateLimitResetHeader(t *testing.T) {
	h := startLatchkey(t)
	env := newCallsEnv(t, h, providertest.Options{})
	for _, format := range []string{"seconds", "epoch"} {
		doc := strings.ReplaceAll(callsApp, "{{provider}}", env.provider.URL)
		doc = strings.Replace(doc, "    verify_api: me\n", "    verify_api: me\n    api_calls:\n      max_retries: 1\n"+
			"      rate_limit_reset_header: X-RateLimit-Reset\n      rate_limit_reset_format: "+format+"\n", 1)
		h.expect(http.StatusOK, "PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml", doc)
		reset := "1"
		if format == "epoch" {
			reset = fmt.Sprint(time.Now().Add(1500 * time.Millisecond).Unix())
		}
		start := time.Now()
		resp, body := env.call("GET", env.base+"/answer?status=429&body=%7B%7D&header=X-RateLimit-Reset:"+reset, "", nil)
		waited := time.Since(start)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Latchkey-Retries") != "1" {
			t.Fatalf("%s: got HTTP %d %s with %s retries, want the 429 after one retry", format, resp.StatusCode, body, resp.Header.Get("Latchkey-Retries"))
		}
		if waited < 500*time.Millisecond {
			t.Fatalf("%s: retried after %s, want the reset header's wait", format, waited)
		}
	}
}

// TestOrgRoutesCallWithAClientCredentialsToken: an app whose config uses
// the client credentials grant calls on the org's routes; a user route of
// a user-connecting config answers no such connection.
func TestOrgRoutesCallWithAClientCredentialsToken(t *testing.T) {
	h := startLatchkey(t)
	p := providertest.New(t, providertest.Options{})
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/machine", testAdminKey, "application/yaml", `
name: machine
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: org, secret: true}
oauth_configs:
  - name: m
    grant_type: client_credentials
    token_url: `+p.TokenURL()+`
    access_token_variable_name: access_token
    api_base_url: `+p.URL+`/api
apis:
  - {name: list, url: /items, query: {per_page: "3"}}
`)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/machine/orgs/acme/settings", testAdminKey, "application/json",
		fmt.Sprintf(`{"client_id": %q, "client_secret": %q}`, p.ClientID(), p.ClientSecret()))
	resp, body := h.call("GET", "/api/v1/apps/machine/orgs/acme/connections/m/proxy/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = h.call("POST", "/api/v1/apps/machine/orgs/acme/apis/list", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if items := decode(t, body)["items"].([]any); len(items) != 3 {
		t.Fatalf("got %s, want 3 items", body)
	}
	if n := p.TokenCalls(); n != 1 {
		t.Fatalf("got %d token requests, want 1 (the org's token is kept)", n)
	}
	// The org's connection is disconnected on its own route; the next call
	// fetches a new token.
	h.expect(http.StatusNoContent, "DELETE", "/api/v1/apps/machine/orgs/acme/connections/m", testAdminKey, "", "")
	h.expect(http.StatusNotFound, "DELETE", "/api/v1/apps/machine/orgs/acme/connections/m", testAdminKey, "", "")
	resp, body = h.call("GET", "/api/v1/apps/machine/orgs/acme/connections/m/proxy/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if n := p.TokenCalls(); n != 2 {
		t.Fatalf("after the disconnect: got %d token requests, want 2 (a new token)", n)
	}
}

// TestProxyKeepsLengthsAndEncodingsConsistent: a chunked upload arrives
// chunked; a compressed answer reaches a caller that accepts gzip as
// gzip, and one that does not decompressed, never with a Content-Length
// of the other form.
func TestProxyKeepsLengthsAndEncodingsConsistent(t *testing.T) {
	env := newCallsEnv(t, startLatchkey(t), providertest.Options{})
	const size = 300 << 10
	req, _ := http.NewRequest("PUT", env.main.URL+env.base+"/upload", io.MultiReader(strings.NewReader(strings.Repeat("y", size))))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := decode(t, b)
	if got["bytes"] != float64(size) || got["content_length"] != float64(-1) || fmt.Sprint(got["transfer_encoding"]) != "[chunked]" {
		t.Fatalf("chunked upload: the provider got %s, want %d bytes, chunked", b, size)
	}

	for _, acceptGzip := range []bool{true, false} {
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		req, _ := http.NewRequest("GET", env.main.URL+env.base+"/download?gzip=true&size=307200", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		if acceptGzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw := &countingReader{r: resp.Body}
		var body io.Reader = raw
		if acceptGzip {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("accepting gzip: got Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(raw)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		} else if resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("not accepting gzip: got Content-Encoding %q, want none", resp.Header.Get("Content-Encoding"))
		}
		n, err := io.Copy(io.Discard, body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("accept gzip %v: read %d bytes (%v), want %d", acceptGzip, n, err, size)
		}
		if resp.ContentLength != -1 && resp.ContentLength != raw.n {
			t.Fatalf("accept gzip %v: got Content-Length %d for %d bytes on the wire", acceptGzip, resp.ContentLength, raw.n)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestProxyNeverLoopsOn401: a config that also lists 401 among its retry
// statuses still gets one refresh and one replay, and the 401 back.
func TestProxyNeverLoopsOn401(t *testing.T) {
	h := startLatchkey(t)
	env := newCallsEnv(t, h, providertest.Options{})
	doc := strings.ReplaceAll(callsApp, "{{provider}}", env.provider.URL)
	doc = strings.Replace(doc, "    verify_api: me\n", "    verify_api: me\n    api_calls:\n      retry_statuses: [401, 503]\n      max_retries: 5\n", 1)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml", doc)
	before := len(env.provider.RequestsTo(providertest.EndpointAPI))
	resp, body := env.call("GET", env.base+"/answer?status=401&body=%7B%7D", "", nil)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Latchkey-Retries") != "0" {
		t.Fatalf("got HTTP %d %s with %s retries, want the 401 after one replay", resp.StatusCode, body, resp.Header.Get("Latchkey-Retries"))
	}
	if n := len(env.provider.RequestsTo(providertest.EndpointAPI)) - before; n != 2 {
		t.Fatalf("the provider got %d calls, want 2 (the call and its replay)", n)
	}
	if n := env.provider.RefreshCalls(); n != 1 {
		t.Fatalf("got %d refreshes, want 1", n)
	}
}
