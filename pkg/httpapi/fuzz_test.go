package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/http/httpguts"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// fuzzApp is the app of the fuzzed server's store. Its provider is not
// listening: the seeded connection never needs a refresh, and nothing a
// request does may reach a provider and fail with a 5xx.
const fuzzApp = `
name: capacity
allowed_return_urls: ["https://app.example.com/integrations"]
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: example
    link_url: "http://127.0.0.1:1/authorize?client_id={{client_id}}&response_type=code"
    token_url: http://127.0.0.1:1/token
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

// fuzzServer is a Server on a SQLite store holding an app, an installation,
// a connection, an API key of each scope, a webhook and a signed-in admin.
type fuzzServer struct {
	srv                  *httpapi.Server
	st                   store.Store
	admin, runtime       string
	sessionID, csrfToken string
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	ctx := context.Background()
	key, _ := secretbox.GenerateKey()
	ring, _ := secretbox.NewKeyring(key)
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(tb.TempDir(), "l.db"), Keyring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	engine := flow.New(flow.Config{Store: st, CallbackURL: "http://l.test/oauth/callback", ConnectURL: "http://l.test/connect"})
	srv, err := httpapi.New(httpapi.Config{Engine: engine, Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	fs := &fuzzServer{srv: srv, st: st}
	now := time.Now()
	for _, k := range []struct {
		scope, app string
		full       *string
	}{{latchkey.ScopeAdmin, "", &fs.admin}, {latchkey.ScopeRuntime, "capacity", &fs.runtime}} {
		rec, full, err := apikey.Generate(k.scope, k.app, "fuzz", now)
		if err != nil {
			tb.Fatal(err)
		}
		if err := st.CreateAPIKey(ctx, rec); err != nil {
			tb.Fatal(err)
		}
		*k.full = full
	}
	app, err := latchkey.ParseAppAs([]byte(fuzzApp), latchkey.FormatYAML)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := engine.SaveApp(ctx, app); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.PutInstallation(ctx, latchkey.Installation{App: "capacity", Org: "acme",
		Values: map[string]string{"client_id": "cid", "client_secret": "csecret"}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.PutConnection(ctx, latchkey.Connection{
		ConnectionKey: latchkey.ConnectionKey{App: "capacity", Org: "acme", User: "u1", Config: "example"},
		Status:        latchkey.StatusActive, ExpiresAt: now.Add(24 * time.Hour),
		Values: map[string]string{"access_token": "at-1", "refresh_token": "rt-1"}}); err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateWebhook(ctx, store.Webhook{ID: "wh_0011223344556677", App: "capacity", URL: "https://hooks.example/in",
		Events: []string{}, Secret: "whsec", CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	// The admin's hash is of the cheapest cost: a sign-in the fuzzer gets
	// right costs a millisecond, not a tenth of a second.
	hash, err := bcrypt.GenerateFromPassword([]byte("fuzz-admin-password"), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateAdmin(ctx, store.Admin{Email: "ada@example.com", PasswordHash: hash, CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	fs.sessionID = "c2Vzc2lvbi1pZC1mb3ItdGhlLWZ1enotdGFyZ2V0LTAx"
	if err := st.CreateSession(ctx, fs.sessionID, store.Session{Email: "ada@example.com", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		tb.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/session", nil)
	req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: fs.sessionID})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &sess); err != nil || sess.CSRFToken == "" {
		tb.Fatalf("session: got HTTP %d %s", rec.Code, rec.Body)
	}
	fs.csrfToken = sess.CSRFToken
	return fs
}

// snapshot is what a refused request must leave as it was: apps,
// installations, connections with their values, API keys (but when they
// were last used) and webhooks.
func (fs *fuzzServer) snapshot(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	var b strings.Builder
	apps, err := fs.st.ListApps(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range apps {
		fmt.Fprintf(&b, "app %+v\n", a)
		insts, err := fs.st.ListInstallations(ctx, a.Name)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "installations %+v\n", insts)
		conns, err := fs.st.ListConnections(ctx, a.Name, "")
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range conns {
			full, err := fs.st.GetConnection(ctx, c.ConnectionKey)
			if err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(&b, "connection %+v\n", full)
		}
		hooks, err := fs.st.ListWebhooks(ctx, a.Name)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "webhooks %+v\n", hooks)
	}
	keys, err := fs.st.ListAPIKeys(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range keys {
		// A refused request still records its key's use: that is no
		// change the refusal should have undone.
		keys[i].LastUsedAt = nil
	}
	fmt.Fprintf(&b, "keys %+v\n", keys)
	return b.String()
}

// Callers of a fuzzed request.
const (
	asNobody = iota
	asAdmin
	asRuntime
	asSession
	callers
)

// request reads a fuzzed request as the real server would: a request
// line and headers net/http accepts, the body after them.
func (fs *fuzzServer) request(method, target, header string, body []byte, caller uint8) (*http.Request, bool) {
	raw := method + " " + target + " HTTP/1.1\r\nHost: l.test\r\n"
	if header != "" {
		raw += strings.ReplaceAll(strings.TrimRight(header, "\n"), "\n", "\r\n") + "\r\n"
	}
	raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + string(body))))
	if err != nil || !strings.HasPrefix(req.RequestURI, "/") {
		return nil, false
	}
	for name, vs := range req.Header { // net/http's server answers 400 itself
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, false
			}
		}
	}
	switch caller % callers {
	case asAdmin:
		req.Header.Set("Authorization", "Bearer "+fs.admin)
	case asRuntime:
		req.Header.Set("Authorization", "Bearer "+fs.runtime)
	case asSession:
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: fs.sessionID})
		req.Header.Set(httpapi.CSRFHeader, fs.csrfToken)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	return req, true
}

// FuzzServer drives the whole HTTP server with random methods, paths,
// headers and bodies, as an admin, a runtime key, a signed-in admin or
// nobody: no request may panic or get a 5xx, and a refused one (4xx) must
// leave apps, installations, connections, keys and webhooks as they were.
// The corpus starts from the inputs that once got a 500 or slipped past a
// check (issue 11, items 2, 5 and 11).
func FuzzServer(f *testing.F) {
	fs := newFuzzServer(f)
	user := "/api/v1/apps/capacity/orgs/acme/users/u1"
	jsonType := "Content-Type: application/json"
	for _, s := range []struct {
		method, target, header, body string
		caller                       uint8
	}{
		// Item 2: NUL and bytes that are not UTF-8.
		{"GET", "/api/v1/apps", "Authorization: Bearer lk_\xff_secret", "", asNobody},
		{"GET", "/api/v1/apps", "Cookie: latchkey_session=\xff", "", asNobody},
		{"GET", "/api/v1/apps/capacity/orgs/%FF/settings", "", "", asAdmin},
		{"PUT", "/api/v1/apps/capacity/orgs/a%00b/settings", jsonType, `{}`, asAdmin},
		{"GET", "/api/v1/apps/capacity/connections?org=%00", "", "", asRuntime},
		{"GET", "/api/v1/audit?app=%FF&action=%00", "", "", asAdmin},
		{"POST", "/api/v1/session", jsonType, `{"email": "ada@example.com\u0000", "password": "p"}`, asNobody},
		{"PATCH", "/api/v1/apps/capacity/orgs/acme/settings", jsonType, `{"client_id": "a\u0000b"}`, asSession},
		{"PUT", "/api/v1/apps/capacity/orgs/acme/settings", jsonType, "{\"client_id\": \"\xff\"}", asAdmin},
		{"PUT", "/api/v1/apps/capacity", jsonType, `{"name": "capacity", "label": "\u0000"}`, asAdmin},
		{"PUT", "/api/v1/apps/capacity", "Content-Type: application/yaml", "name: capacity\nlabel: \"\\0\"\n", asAdmin},
		{"POST", "/api/v1/apikeys", jsonType, `{"scope": "runtime", "app": "\u0000"}`, asAdmin},
		{"POST", "/api/v1/apps/capacity/webhooks", jsonType, `{"url": "https://h.example/\u0000"}`, asAdmin},
		{"GET", "/oauth/callback?state=%00&code=%FF", "", "", asNobody},
		{"GET", "/connect/%FF", "", "", asNobody},
		// Item 5: ids decoded once, one grammar.
		{"PUT", "/api/v1/apps/capacity/orgs/a%2Fb/settings", jsonType, `{"client_id": "c", "client_secret": "s"}`, asAdmin},
		{"PUT", "/api/v1/apps/capacity/orgs/a%252Fb/settings", jsonType, `{"client_id": "c", "client_secret": "s"}`, asAdmin},
		{"GET", "/api/v1/apps/capacity/orgs/caf%c3%a9/users/a%2Fb/settings/client_id", "", "", asRuntime},
		{"GET", "/api/v1/apps/capacity/orgs/a%20b/settings", "", "", asAdmin},
		{"DELETE", "/api/v1/apps/capacity/orgs/%2E%2E", "", "", asAdmin},
		{"GET", user + "/connections/example", "", "", asRuntime},
		// Item 11: protocol details.
		{"HEAD", "/api/v1/apps", "", "", asAdmin},
		{"OPTIONS", "/api/v1/apps/capacity", "", "", asNobody},
		{"BREW", "/api/v1/apikeys", "", "", asAdmin},
		{"PUT", "/api/v1/apps/empty", jsonType, "null", asAdmin},
		// Found by CI's fuzzing: a null the decoder read as "left out".
		{"PUT", "/api/v1/apps/0", jsonType, `{"name": null}`, asAdmin},
		{"POST", "/api/v1/apikeys", jsonType, `{"scope": "admin", "app": null}`, asAdmin},
		{"PUT", "/api/v1/apps/odd", jsonType, `{"settings": [{"name": "_lk_x", "level": "org"}, {"name": "true", "level": "org"}]}`, asAdmin},
		{"PUT", "/api/v1/apps/odd", "Content-Type: text/plain", `{"settings": []}`, asAdmin},
		{"POST", "/api/v1/apikeys", jsonType, `{"scope": "admin", "name": "a\nb"}`, asSession},
		{"POST", "/api/v1/session", "Content-Type: text/plain", `{"email": "a@b.c", "password": "p"}x`, asNobody},
		{"POST", user + "/connections/example/link", jsonType, `{"return_to": "https://app.example.com/integrations/../x"}`, asAdmin},
	} {
		f.Add(s.method, s.target, s.header, []byte(s.body), s.caller)
	}
	f.Fuzz(func(t *testing.T, method, target, header string, body []byte, caller uint8) {
		req, ok := fs.request(method, target, header, body, caller)
		if !ok {
			return
		}
		before := fs.snapshot(t)
		rec := serveChecked(t, fs.srv, req, body)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: got HTTP %d %s, want no 5xx", method, target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if after := fs.snapshot(t); after != before {
				t.Fatalf("%s %q: refused with HTTP %d %s, but the store changed:\n got %s\nwant %s", method, target, rec.Code, rec.Body, after, before)
			}
		}
		if req.Method == http.MethodHead && rec.Body.Len() > 0 {
			t.Fatalf("HEAD %q: got a body of %d bytes, want none", target, rec.Body.Len())
		}
	})
}
