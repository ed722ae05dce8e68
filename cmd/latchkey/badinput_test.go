package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
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
