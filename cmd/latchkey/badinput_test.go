package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// apiError is the JSON shape of every API error.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// TestBadInputsGetClearErrorsAndChangeNothing sends each bad input to the
// real server and checks the status, that the JSON error names the field,
// and that the stored state is what it was.
func TestBadInputsGetClearErrorsAndChangeNothing(t *testing.T) {
	h := startLatchkey(t)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t", Now: h.clock.Now,
		RedirectURIs: []string{seedCallback}})
	doc := strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL())
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	install := `{"client_id": "capacity-client", "client_secret": "s3cr3t", "redirect_uri": "` + seedCallback + `"}`
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json", install)
	appBefore := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", "")
	instBefore := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "", "")

	link := "/api/v1/apps/capacity/orgs/acme/users/u1/connections/example/link"
	for _, tc := range []struct {
		name, method, path, key, ctype, body string
		status                               int
		field                                string
	}{
		{"no API key", "GET", "/api/v1/apps", "", "", "", http.StatusUnauthorized, ""},
		{"a wrong API key", "GET", "/api/v1/apps", "lk_0000_wrong", "", "", http.StatusUnauthorized, ""},
		{"a broken template", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
			strings.Replace(doc, `"code": "{{auth_code}}"`, `"code": "{{auth_code}"`, 1), http.StatusUnprocessableEntity, "oauth_configs[0].request_body"},
		{"a broken JSONPath", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
			strings.Replace(doc, "extraction_path_access_token: $.access_token", "extraction_path_access_token: $.[?(", 1), http.StatusUnprocessableEntity, "oauth_configs[0].extraction_path_access_token"},
		{"a variable name naming no setting", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
			strings.Replace(doc, "refresh_token_variable_name: refresh_token", "refresh_token_variable_name: refresh", 1), http.StatusUnprocessableEntity, "oauth_configs[0].refresh_token_variable_name"},
		{"an unknown field", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc + "colour: blue\n", http.StatusUnprocessableEntity, "colour"},
		{"a document that is not YAML", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", "name: [unclosed", http.StatusUnprocessableEntity, ""},
		{"a duration that is no duration, in JSON", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/json",
			`{"name": "capacity", "oauth_configs": [{"name": "example", "refresh_margin": "5 minutes"}]}`, http.StatusUnprocessableEntity, "oauth_configs[0].refresh_margin"},
		{"a duration that is no duration, in YAML", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml",
			"name: capacity\noauth_configs:\n  - name: example\n    refresh_margin: 5 minutes\n", http.StatusUnprocessableEntity, "oauth_configs[0].refresh_margin"},
		{"a duration that is no duration, in a JSON body", "PUT", "/api/v1/oauth/server", testAdminKey, "application/json",
			`{"enabled": true, "access_token_ttl": "5 minutes"}`, http.StatusUnprocessableEntity, "access_token_ttl"},
		{"a name differing from the URL's", "PUT", "/api/v1/apps/capacity", testAdminKey, "application/json", `{"name": "other"}`, http.StatusUnprocessableEntity, "name"},
		{"an unknown setting name", "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
			strings.Replace(install, `"client_id"`, `"client_idd"`, 1), http.StatusUnprocessableEntity, "client_idd"},
		{"a user-level setting in an install", "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
			strings.Replace(install, "{", `{"access_token": "x", `, 1), http.StatusUnprocessableEntity, "access_token"},
		{"a missing required org setting", "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
			`{"client_id": "capacity-client", "redirect_uri": "x"}`, http.StatusUnprocessableEntity, "client_secret"},
		{"a value that is no string", "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
			`{"client_id": 42}`, http.StatusUnprocessableEntity, "client_id"},
		{"a link for an org that has not installed", "POST", "/api/v1/apps/capacity/orgs/nobody/users/u1/connections/example/link", testAdminKey, "", "", http.StatusUnprocessableEntity, "client_id"},
		{"a link with a foreign return_to", "POST", link, testAdminKey, "application/json", `{"return_to": "https://evil.example/"}`, http.StatusUnprocessableEntity, "return_to"},
		{"an unknown app", "GET", "/api/v1/apps/nope", testAdminKey, "", "", http.StatusNotFound, ""},
		{"an unknown config", "POST", "/api/v1/apps/capacity/orgs/acme/users/u1/connections/nope/link", testAdminKey, "", "", http.StatusNotFound, ""},
		{"a connection never made", "GET", "/api/v1/apps/capacity/orgs/acme/users/u1/connections/example", testAdminKey, "", "", http.StatusNotFound, ""},
		{"an unknown route", "GET", "/api/v1/nothing", testAdminKey, "", "", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(tc.method, tc.path, tc.key, tc.ctype, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("got HTTP %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("got body %s, want a JSON error with a code and a message", body)
			}
			if tc.field != "" {
				found := false
				for _, d := range e.Error.Details {
					found = found || d.Field == tc.field
				}
				if !found {
					t.Fatalf("got details %+v, want one naming %q", e.Error.Details, tc.field)
				}
			}
		})
	}
	if got := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""); string(got) != string(appBefore) {
		t.Errorf("the app changed after refused writes:\n got %s\nwant %s", got, appBefore)
	}
	if got := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "", ""); string(got) != string(instBefore) {
		t.Errorf("the installation changed after refused writes:\n got %s\nwant %s", got, instBefore)
	}

	// A reused state and an expired link end on error pages.
	linkURL := decode(t, h.expect(http.StatusCreated, "POST", link, testAdminKey, "", ""))["url"].(string)
	path := strings.TrimPrefix(linkURL, h.main.URL)
	resp, _ := h.do("POST", path, "", "application/x-www-form-urlencoded", "")
	cb := provider.Authorize(t, resp.Header.Get("Location"))
	h.expect(http.StatusOK, "GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "already completed") {
		t.Errorf("reused state: got HTTP %d, want 400 and a page that says so", resp.StatusCode)
	}
	linkURL = decode(t, h.expect(http.StatusCreated, "POST", link, testAdminKey, "", ""))["url"].(string)
	h.clock.Advance(11 * time.Minute)
	resp, page = h.do("GET", strings.TrimPrefix(linkURL, h.main.URL), "", "", "")
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(page), "expired") {
		t.Errorf("expired link: got HTTP %d, want 410 and a page that says so", resp.StatusCode)
	}
	// A provider's error on the callback is shown as the provider said it.
	linkURL = decode(t, h.expect(http.StatusCreated, "POST", link, testAdminKey, "", ""))["url"].(string)
	resp, _ = h.do("POST", strings.TrimPrefix(linkURL, h.main.URL), "", "application/x-www-form-urlencoded", "")
	provider.DenyNext()
	cb = provider.Authorize(t, resp.Header.Get("Location"))
	resp, page = h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "access_denied") || !strings.Contains(string(page), "The resource owner denied the request.") {
		t.Errorf("denied: got HTTP %d and a page without the provider's words", resp.StatusCode)
	}
}

// TestRuntimeKeysSeeOnlyTheirApp checks tenancy through the API: a runtime
// key reads its own app's connections and nothing of another app, and
// changes no config.
func TestRuntimeKeysSeeOnlyTheirApp(t *testing.T) {
	h := startLatchkey(t)
	for _, name := range []string{"alpha", "beta"} {
		h.expect(http.StatusCreated, "PUT", "/api/v1/apps/"+name, testAdminKey, "application/json", `{"settings": [{"name": "k", "level": "org", "secret": true}]}`)
		h.expect(http.StatusOK, "PUT", "/api/v1/apps/"+name+"/orgs/acme/settings", testAdminKey, "application/json", `{"k": "secret-of-`+name+`"}`)
	}
	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "runtime", "app": "alpha"}`))
	key := created["key"].(string)
	if v := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/acme/users/u/settings/k", key, "", ""))["value"]; v != "secret-of-alpha" {
		t.Fatalf("own app: got %v, want its value", v)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/apps/beta/orgs/acme/users/u/settings/k", ""},
		{"GET", "/api/v1/apps/beta", ""},
		{"GET", "/api/v1/apps/beta/connections", ""},
		{"GET", "/api/v1/apps/beta/orgs/acme/settings", ""},
		{"POST", "/api/v1/apps/beta/orgs/acme/users/u/connections/x/link", ""},
		{"GET", "/api/v1/apps", ""},
		{"PUT", "/api/v1/apps/alpha", `{"name": "alpha"}`},
		{"PUT", "/api/v1/apps/alpha/orgs/acme/settings", `{"k": "changed"}`},
		{"DELETE", "/api/v1/apps/alpha", ""},
		{"POST", "/api/v1/apikeys", `{"scope": "admin"}`},
	} {
		resp, body := h.do(tc.method, tc.path, key, "application/json", tc.body)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s with alpha's runtime key: got HTTP %d %s, want 403", tc.method, tc.path, resp.StatusCode, body)
		}
		if strings.Contains(string(body), "secret-of-beta") {
			t.Errorf("%s %s: beta's secret leaked", tc.method, tc.path)
		}
	}
	if v := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/acme/users/u/settings/k", testAdminKey, "", ""))["value"]; v != "secret-of-alpha" {
		t.Fatalf("after the refused writes: got %v, want the value unchanged", v)
	}
	// Revoked, the key stops working at once.
	id := created["api_key"].(map[string]any)["id"].(string)
	h.expect(http.StatusNoContent, "DELETE", "/api/v1/apikeys/"+id, testAdminKey, "", "")
	h.expect(http.StatusUnauthorized, "GET", "/api/v1/apps/alpha/orgs/acme/users/u/settings/k", key, "", "")
}

// onDatabase has Latchkey use the database at url.
func onDatabase(url string) func(*Config) { return func(c *Config) { c.DatabaseURL = url } }

// eachServer runs a scenario against Latchkey on SQLite and on PostgreSQL
// (skipped, saying why, when LATCHKEY_TEST_POSTGRES_URL is not set).
func eachServer(t *testing.T, scenario func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) { scenario(t, startLatchkey(t)) })
	t.Run("postgres", func(t *testing.T) { scenario(t, startLatchkey(t, onDatabase(storetest.PostgresURL(t)))) })
}

// send sends a request with the given headers, as they are, and returns
// the response and its body.
func (h *harness) send(method, path string, header http.Header, body string) (*http.Response, []byte) {
	h.tb.Helper()
	req, err := http.NewRequest(method, h.main.URL+path, strings.NewReader(body))
	if err != nil {
		h.tb.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		h.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// seedCapacity declares seed 002's app, installs it for org acme and
// returns its provider.
func seedCapacity(t *testing.T, h *harness) *providertest.Provider {
	t.Helper()
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t", Now: h.clock.Now,
		RedirectURIs: []string{seedCallback}})
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL()))
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t", "redirect_uri": "`+seedCallback+`"}`)
	return provider
}

// stateOf is what a refused request must leave as it was: apps,
// installations, connections, API keys and webhooks, as the API lists them.
func stateOf(h *harness) string {
	h.tb.Helper()
	var b strings.Builder
	for _, p := range []string{"/api/v1/apps", "/api/v1/apps/capacity/orgs", "/api/v1/apps/capacity/connections",
		"/api/v1/apikeys", "/api/v1/apps/capacity/webhooks"} {
		b.Write(h.expect(http.StatusOK, "GET", p, testAdminKey, "", ""))
		b.WriteByte('\n')
	}
	return b.String()
}

// badInput is a request that must be refused with status, its JSON error
// naming field (when field is set).
type badInput struct {
	name, method, path string
	header             http.Header
	body               string
	status             int
	field              string
}

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

func adminJSON() http.Header {
	return http.Header{"Authorization": {"Bearer " + testAdminKey}, "Content-Type": {"application/json"}}
}

// refuseAll sends each bad input and checks its status and named field,
// and that together they changed nothing.
func refuseAll(t *testing.T, h *harness, inputs []badInput) {
	t.Helper()
	before := stateOf(h)
	for _, tc := range inputs {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.send(tc.method, tc.path, tc.header, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("got HTTP %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				return // an end-user page
			}
			var e apiError
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("got body %s, want a JSON error with a code and a message", body)
			}
			if tc.field != "" {
				found := false
				for _, d := range e.Error.Details {
					found = found || d.Field == tc.field
				}
				if !found {
					t.Fatalf("got %s, want details naming %q", body, tc.field)
				}
			}
		})
	}
	if after := stateOf(h); after != before {
		t.Errorf("refused requests changed the state:\n got %s\nwant %s", after, before)
	}
}

// TestBadBytesAreRefusedAtTheEdge sends NUL bytes, bytes that are not UTF-8
// and control characters in every kind of input (path ids, query
// parameters, the API key, the session cookie, JSON and YAML bodies, the
// install prompt's form, the callback's query): each gets a 400 or 422
// naming the field, never a database error, on SQLite and PostgreSQL.
func TestBadBytesAreRefusedAtTheEdge(t *testing.T) {
	eachServer(t, func(t *testing.T, h *harness) {
		seedCapacity(t, h)
		addAdmin(t, h)
		link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
		u, _ := url.Parse(link["url"].(string))
		install := u.RequestURI()
		form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		yaml := http.Header{"Authorization": {"Bearer " + testAdminKey}, "Content-Type": {"application/yaml"}}
		user := "/api/v1/apps/capacity/orgs/acme/users/"
		refuseAll(t, h, []badInput{
			{"an API key with a byte that is not UTF-8", "GET", "/api/v1/apps", bearer("lk_\xff_secret"), "", 401, ""},
			{"an API key id with a byte that is not UTF-8", "GET", "/api/v1/apps", bearer("lk_ab\xffcd_0123456789abcdef"), "", 401, ""},
			{"a session cookie with a byte that is not UTF-8", "GET", "/api/v1/apps", http.Header{"Cookie": {"latchkey_session=ab\xffcd"}}, "", 401, ""},
			{"an org id that is not UTF-8", "GET", "/api/v1/apps/capacity/orgs/%FF/settings", bearer(testAdminKey), "", 400, "org"},
			{"an org id with NUL", "PUT", "/api/v1/apps/capacity/orgs/a%00b/settings", adminJSON(), `{}`, 400, "org"},
			{"an org id with NUL, without a key", "GET", "/api/v1/apps/capacity/orgs/a%00b/settings", nil, "", 400, "org"},
			{"a user id that is not UTF-8", "GET", user + "%FF/connections/example", bearer(testAdminKey), "", 400, "user"},
			{"a user id with NUL", "POST", user + "a%00b/connections/example/link", bearer(testAdminKey), "", 400, "user"},
			{"an app name with NUL", "GET", "/api/v1/apps/a%00b", bearer(testAdminKey), "", 400, "app"},
			{"a config name that is not UTF-8", "GET", user + "u1/connections/%FF", bearer(testAdminKey), "", 400, "config"},
			{"a setting name with NUL", "GET", user + "u1/settings/a%00b", bearer(testAdminKey), "", 400, "name"},
			{"an API key id with NUL", "DELETE", "/api/v1/apikeys/a%00b", bearer(testAdminKey), "", 400, "id"},
			{"a webhook id that is not UTF-8", "DELETE", "/api/v1/apps/capacity/webhooks/%FF", bearer(testAdminKey), "", 400, "id"},
			{"?org= with NUL", "GET", "/api/v1/apps/capacity/connections?org=%00", bearer(testAdminKey), "", 400, "org"},
			{"?org= that is not UTF-8", "GET", "/api/v1/apps/capacity/connections?org=%FF", bearer(testAdminKey), "", 400, "org"},
			{"?app= with NUL in the audit log", "GET", "/api/v1/audit?app=%00", bearer(testAdminKey), "", 400, "app"},
			{"?action= that is not UTF-8", "GET", "/api/v1/audit?action=%FF", bearer(testAdminKey), "", 400, "action"},
			{"a query that cannot be read", "GET", "/api/v1/audit?app=%zz", bearer(testAdminKey), "", 400, "query"},
			{"a sign-in email with NUL", "POST", "/api/v1/session", http.Header{"Content-Type": {"application/json"}},
				`{"email": "ada@example.com\u0000", "password": "whatever-password"}`, 422, "email"},
			{"a sign-in body that is not UTF-8", "POST", "/api/v1/session", http.Header{"Content-Type": {"application/json"}},
				"{\"email\": \"ada\xff@example.com\", \"password\": \"whatever-password\"}", 400, ""},
			{"a setting value with NUL", "PUT", "/api/v1/apps/capacity/orgs/acme/settings", adminJSON(),
				`{"client_id": "a\u0000b", "client_secret": "s", "redirect_uri": "r"}`, 422, "client_id"},
			{"a setting value that is not UTF-8", "PATCH", "/api/v1/apps/capacity/orgs/acme/settings", adminJSON(), "{\"client_id\": \"a\xffb\"}", 400, ""},
			{"a setting name with NUL in the body", "PATCH", "/api/v1/apps/capacity/orgs/acme/settings", adminJSON(), `{"client_id\u0000": "x"}`, 422, `"client_id\x00"`},
			{"an app document with NUL in JSON", "PUT", "/api/v1/apps/capacity", adminJSON(), `{"name": "capacity", "label": "a\u0000b"}`, 422, "label"},
			{"an app document with NUL in YAML", "PUT", "/api/v1/apps/capacity", yaml, "name: capacity\nlabel: \"a\\0b\"\n", 422, "label"},
			{"an app document that is not UTF-8", "PUT", "/api/v1/apps/capacity", yaml, "name: capacity\nlabel: a\xffb\n", 422, ""},
			{"a webhook URL with NUL", "POST", "/api/v1/apps/capacity/webhooks", adminJSON(), `{"url": "https://h.example/\u0000"}`, 422, "url"},
			{"an API key name with NUL", "POST", "/api/v1/apikeys", adminJSON(), `{"scope": "admin", "name": "a\u0000b"}`, 422, "name"},
			{"a runtime key for an app named with NUL", "POST", "/api/v1/apikeys", adminJSON(), `{"scope": "runtime", "app": "a\u0000b"}`, 422, "app"},
			{"a return_to with NUL", "POST", user + "u1/connections/example/link", adminJSON(), `{"return_to": "https://app.example.com/integrations\u0000"}`, 422, "return_to"},
			{"an install prompt value with NUL", "POST", install, form, "s_client_id=a%00b&s_client_secret=s&s_redirect_uri=r", 422, ""},
			{"an install prompt value that is not UTF-8", "POST", install, form, "s_client_id=a%FFb&s_client_secret=s&s_redirect_uri=r", 422, ""},
			{"a link token that is not UTF-8", "GET", "/connect/%FF", nil, "", 400, ""},
			{"a callback state with NUL", "GET", "/oauth/callback?state=%00&code=c", nil, "", 400, ""},
			{"a callback code that is not UTF-8", "GET", "/oauth/callback?state=s&code=%FF", nil, "", 400, ""},
		})
	})
}

// TestPathIDsAreDecodedOnceAndCheckedByOneGrammar addresses orgs and users
// with escaped ids: each path parameter is unescaped exactly once, however
// the rest of the path is escaped, and checked against the id grammar,
// whose words the error repeats.
func TestPathIDsAreDecodedOnceAndCheckedByOneGrammar(t *testing.T) {
	eachServer(t, func(t *testing.T, h *harness) {
		seedCapacity(t, h)
		values := `{"client_id": "c", "client_secret": "s", "redirect_uri": "r"}`
		orgs := "/api/v1/apps/capacity/orgs/"
		// One org, however its bytes are escaped.
		h.expect(http.StatusOK, "PUT", orgs+"caf%C3%A9/settings", testAdminKey, "application/json", values)
		for _, p := range []string{"caf%C3%A9", "caf%c3%a9", "caf\u00e9", "%63af%C3%A9"} {
			got := decode(t, h.expect(http.StatusOK, "GET", orgs+p+"/settings", testAdminKey, "", ""))
			if got["org"] != "caf\u00e9" {
				t.Errorf("GET …/orgs/%s/settings: got org %q, want %q", p, got["org"], "caf\u00e9")
			}
		}
		// An escaped '/' inside another parameter leaves this one decoded.
		resp, body := h.do("GET", orgs+"caf%c3%a9/users/a%2Fb/settings/client_id", testAdminKey, "", "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"user"`) {
			t.Errorf("user a%%2Fb: got HTTP %d %s, want 400 naming user", resp.StatusCode, body)
		}
		refuseAll(t, h, []badInput{
			{"an escaped slash", "PUT", orgs + "a%2Fb/settings", adminJSON(), values, 400, "org"},
			{"an escaped slash escaped twice", "PUT", orgs + "a%252Fb/settings", adminJSON(), values, 400, "org"},
			{"a space", "PUT", orgs + "a%20b/settings", adminJSON(), values, 400, "org"},
			{"a dot segment", "PUT", orgs + "%2E%2E/settings", adminJSON(), values, 400, "org"},
			{"a combining accent (not NFC)", "PUT", orgs + "cafe%CC%81/settings", adminJSON(), values, 400, "org"},
			{"a zero-width space", "PUT", orgs + "a%E2%80%8Bb/settings", adminJSON(), values, 400, "org"},
			{"an id of 201 bytes", "PUT", orgs + strings.Repeat("x", 201) + "/settings", adminJSON(), values, 400, "org"},
			{"a user with a backslash", "POST", orgs + "acme/users/a%5Cb/connections/example/link", bearer(testAdminKey), "", 400, "user"},
			{"an upper-case app name", "GET", "/api/v1/apps/Capacity", bearer(testAdminKey), "", 400, "app"},
		})
		_, body = h.do("PUT", orgs+"a%20b/settings", testAdminKey, "application/json", values)
		if !strings.Contains(string(body), "without spaces") {
			t.Errorf("got %s, want the message to state the grammar that refused it", body)
		}
		// Printable ids of every kind are accepted.
		for _, id := range []string{"acme-2", "user@example.com", "a.b_c~d", "Ærøskøbing", "東京", "x:y=z+1"} {
			h.expect(http.StatusOK, "PUT", orgs+url.PathEscape(id)+"/settings", testAdminKey, "application/json", values)
			if got := decode(t, h.expect(http.StatusOK, "GET", orgs+url.PathEscape(id)+"/settings", testAdminKey, "", ""))["org"]; got != id {
				t.Errorf("org %q: got %q back", id, got)
			}
		}
	})
}

// TestProtocolDetails checks HEAD, OPTIONS and 405 with Allow on routes
// inside and outside the /api/v1 group, and refuses the documents and
// bodies that used to be accepted and fail later, each naming the field.
func TestProtocolDetails(t *testing.T) {
	h := startLatchkey(t)
	seedCapacity(t, h)
	addAdmin(t, h)

	get, getBody := h.do("GET", "/api/v1/apps/capacity", testAdminKey, "", "")
	head, headBody := h.do("HEAD", "/api/v1/apps/capacity", testAdminKey, "", "")
	if head.StatusCode != http.StatusOK || len(headBody) != 0 || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(getBody) == 0 {
		t.Errorf("HEAD: got HTTP %d with %d bytes and Content-Type %q, want 200, no body and GET's %q",
			head.StatusCode, len(headBody), head.Header.Get("Content-Type"), get.Header.Get("Content-Type"))
	}
	if resp, _ := h.do("HEAD", "/healthz", "", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /healthz: got HTTP %d, want 200", resp.StatusCode)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"OPTIONS", "/api/v1/apps", 204, "GET, HEAD, OPTIONS"},
		{"OPTIONS", "/api/v1/apps/capacity", 204, "GET, HEAD, PUT, DELETE, OPTIONS"},
		{"OPTIONS", "/api/v1/apps/capacity/orgs/acme/settings", 204, "GET, HEAD, PUT, PATCH, OPTIONS"},
		{"OPTIONS", "/healthz", 204, "GET, HEAD, OPTIONS"},
		{"PATCH", "/api/v1/apps", 405, "GET, HEAD, OPTIONS"},
		{"POST", "/api/v1/apps/capacity", 405, "GET, HEAD, PUT, DELETE, OPTIONS"},
		{"BREW", "/api/v1/apikeys", 405, "GET, HEAD, POST, OPTIONS"},
		{"DELETE", "/healthz", 405, "GET, HEAD, OPTIONS"},
		{"PUT", "/oauth/callback", 405, "GET, OPTIONS"}, // a HEAD would spend the state
		{"OPTIONS", "/api/v1/nothing", 401, ""},         // no route: the API's 401 before its 404
		{"OPTIONS", "/nothing", 404, ""},
	} {
		resp, body := h.do(tc.method, tc.path, "", "", "")
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: got HTTP %d Allow %q %s, want %d Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), body, tc.status, tc.allow)
		}
	}

	yaml := http.Header{"Authorization": {"Bearer " + testAdminKey}, "Content-Type": {"application/yaml"}}
	doc := func(settings string) string {
		return `{"settings": [` + settings + `]}`
	}
	sessionJSON := http.Header{"Content-Type": {"application/json"}}
	signIn := `{"email": "` + testAdminEmail + `", "password": "` + testAdminPassword + `"}`
	refuseAll(t, h, []badInput{
		{"a JSON null document", "PUT", "/api/v1/apps/empty", adminJSON(), "null", 422, ""},
		{"a YAML null document", "PUT", "/api/v1/apps/empty", yaml, "~\n", 422, ""},
		{"a JSON array document", "PUT", "/api/v1/apps/empty", adminJSON(), "[]", 422, ""},
		{"a setting named _lk_x", "PUT", "/api/v1/apps/odd", adminJSON(), doc(`{"name": "_lk_x", "level": "org"}`), 422, "settings[0].name"},
		{"a setting named true", "PUT", "/api/v1/apps/odd", adminJSON(), doc(`{"name": "true", "level": "org"}`), 422, "settings[0].name"},
		{"a setting named nil", "PUT", "/api/v1/apps/odd", adminJSON(), doc(`{"name": "nil", "level": "org"}`), 422, "settings[0].name"},
		{"a setting named range", "PUT", "/api/v1/apps/odd", adminJSON(), doc(`{"name": "range", "level": "org"}`), 422, "settings[0].name"},
		{"values naming no setting", "PUT", "/api/v1/apps/capacity", yaml,
			strings.Replace(strings.ReplaceAll(seedApp, "{{provider}}", "https://p.example"), "    access_token_variable_name:", "    values: {nope: x}\n    access_token_variable_name:", 1),
			422, "oauth_configs[0].values.nope"},
		{"an API key name with a newline", "POST", "/api/v1/apikeys", adminJSON(), `{"scope": "admin", "name": "a\nb"}`, 422, "name"},
		{"an API key name of 101 characters", "POST", "/api/v1/apikeys", adminJSON(), `{"scope": "admin", "name": "` + strings.Repeat("é", 101) + `"}`, 422, "name"},
		{"an API key body with an unknown field", "POST", "/api/v1/apikeys", adminJSON(), `{"scope": "admin", "nmae": "x"}`, 422, "nmae"},
		{"a sign-in body with trailing junk", "POST", "/api/v1/session", sessionJSON, signIn + `{"email": "x"}`, 400, ""},
		{"a sign-in body as text/plain", "POST", "/api/v1/session", http.Header{"Content-Type": {"text/plain"}}, signIn, 415, "Content-Type"},
		{"a sign-in body as a form", "POST", "/api/v1/session", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, signIn, 415, "Content-Type"},
		{"a sign-in body without a Content-Type", "POST", "/api/v1/session", nil, signIn, 415, "Content-Type"},
	})
	// The sign-in itself still works.
	if resp, body := h.send("POST", "/api/v1/session", sessionJSON, signIn); resp.StatusCode != http.StatusCreated {
		t.Errorf("sign-in: got HTTP %d %s, want 201", resp.StatusCode, body)
	}
}

// TestAppDocumentsAreReadAsTheirContentTypeSays sends app documents whose
// Content-Type and content disagree, or that name a type Latchkey does not
// read.
func TestAppDocumentsAreReadAsTheirContentTypeSays(t *testing.T) {
	eachServer(t, func(t *testing.T, h *harness) {
		seedCapacity(t, h)
		yamlDoc := "settings:\n  - {name: k, level: org}\n"
		jsonDoc := `{"settings": [{"name": "k", "level": "org"}]}`
		withType := func(ct string) http.Header {
			return http.Header{"Authorization": {"Bearer " + testAdminKey}, "Content-Type": {ct}}
		}
		refuseAll(t, h, []badInput{
			{"YAML sent as JSON", "PUT", "/api/v1/apps/doc", withType("application/json"), yamlDoc, 422, ""},
			{"YAML sent without a type (JSON)", "PUT", "/api/v1/apps/doc", bearer(testAdminKey), yamlDoc, 422, ""},
			{"text/plain", "PUT", "/api/v1/apps/doc", withType("text/plain"), jsonDoc, 415, "Content-Type"},
			{"a form", "PUT", "/api/v1/apps/doc", withType("application/x-www-form-urlencoded"), jsonDoc, 415, "Content-Type"},
			{"YAML in UTF-16", "PUT", "/api/v1/apps/doc", withType("application/yaml; charset=utf-16"), yamlDoc, 415, "Content-Type"},
			{"a JSON document with a YAML comment after it", "PUT", "/api/v1/apps/doc", withType("application/json"), jsonDoc + "\n# done\n", 422, ""},
		})
		for _, tc := range []struct{ ctype, body string }{
			{"application/yaml", yamlDoc}, {"text/yaml", yamlDoc}, {"application/x-yaml; charset=utf-8", yamlDoc},
			{"application/json", jsonDoc}, {"application/json; charset=UTF-8", jsonDoc}, {"", jsonDoc},
			{"application/yaml", jsonDoc}, // JSON is YAML
		} {
			resp, body := h.send("PUT", "/api/v1/apps/doc", withType(tc.ctype), tc.body)
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
				t.Errorf("Content-Type %q: got HTTP %d %s, want the document saved", tc.ctype, resp.StatusCode, body)
			}
		}
	})
}
