package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// playgroundApp has a saved config with the client secret sent in the body,
// PKCE on, and a secret org setting used in a token header.
const playgroundApp = `{
  "name": "play",
  "settings": [
    {"name": "client_id", "level": "org", "required": true},
    {"name": "client_secret", "level": "org", "secret": true, "required": true},
    {"name": "tenant_key", "level": "org", "secret": true},
    {"name": "access_token", "level": "user", "secret": true}
  ],
  "oauth_configs": [{
    "name": "web",
    "link_url": "https://provider.example/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}",
    "token_url": "https://provider.example/token",
    "token_headers": {"X-Tenant": "{{tenant_key}}"},
    "scopes": ["read", "write"],
    "access_token_variable_name": "access_token"
  }]
}`

// TestPlaygroundRendersWithSecretsMasked renders a saved config and an
// edited one (Basic authentication) for sample values: the link carries
// the sample state and a PKCE challenge, the token request is as it would
// be sent, and no secret value appears anywhere in the answers.
func TestPlaygroundRendersWithSecretsMasked(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/play", testAdminKey, "application/json", playgroundApp)
	const secret, tenant = "sample-client-secret-value", "sample-tenant-key-value"
	values := `"values": {"client_id": "cid-1", "client_secret": "` + secret + `", "tenant_key": "` + tenant + `"}`

	p := decode(t, h.expect(http.StatusOK, "POST", "/api/v1/apps/play/playground/render", testAdminKey, "application/json",
		`{"config": "web", `+values+`}`))
	link, err := url.Parse(p["link_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	q := link.Query()
	for k, want := range map[string]string{"state": "STATE", "client_id": "cid-1", "code_challenge_method": "S256",
		"scope": "read write", "response_type": "code", "redirect_uri": h.main.URL + "/oauth/callback"} {
		if got := q.Get(k); got != want {
			t.Errorf("link_url: got %s=%q, want %q", k, got, want)
		}
	}
	if q.Get("code_challenge") == "" {
		t.Error("link_url: no code_challenge")
	}
	tr := p["token_request"].(map[string]any)
	if tr["method"] != "POST" || tr["url"] != "https://provider.example/token" {
		t.Errorf("token request: got %v %v, want POST https://provider.example/token", tr["method"], tr["url"])
	}
	form, err := url.ParseQuery(tr["body"].(string))
	if err != nil {
		t.Fatalf("token request body %q: %v", tr["body"], err)
	}
	for k, want := range map[string]string{"grant_type": "authorization_code", "code": "SAMPLE_AUTH_CODE", "client_id": "cid-1",
		"client_secret": "********", "code_verifier": "********"} {
		if got := form.Get(k); got != want {
			t.Errorf("token request body: got %s=%q, want %q", k, got, want)
		}
	}
	headers := tr["headers"].(map[string]any)
	if headers["X-Tenant"] != "********" || headers["Content-Type"] != "application/x-www-form-urlencoded" {
		t.Errorf("token request headers: got %v, want X-Tenant masked and a form content type", headers)
	}

	// An edited, unsaved version with Basic authentication and a JSON body.
	p = decode(t, h.expect(http.StatusOK, "POST", "/api/v1/apps/play/playground/render", testAdminKey, "application/json",
		`{"config": {"name": "web", "link_url": "https://provider.example/authorize", "token_url": "https://provider.example/token",
		  "client_auth": "basic", "request_encoding": "json", "access_token_variable_name": "access_token"}, `+values+`}`))
	tr = p["token_request"].(map[string]any)
	headers = tr["headers"].(map[string]any)
	if headers["Authorization"] != "Basic ********" || tr["basic_auth_user"] != "cid-1" {
		t.Errorf("basic: got Authorization %v and user %v, want the header masked and the user cid-1", headers["Authorization"], tr["basic_auth_user"])
	}
	if strings.Contains(tr["body"].(string), "client_secret") {
		t.Errorf("basic: got body %v, want no client_secret in it", tr["body"])
	}
	h.assertNoLeak(secret, tenant)
}

// TestPlaygroundBadInput gets a 4xx naming the field at fault for each bad
// request, and a 403 for a runtime key.
func TestPlaygroundBadInput(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/play", testAdminKey, "application/json", playgroundApp)
	for _, tc := range []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"missing value", "/api/v1/apps/play/playground/render", `{"config": "web", "values": {}}`, 422, "values.client_id"},
		{"unknown config", "/api/v1/apps/play/playground/render", `{"config": "nope", "values": {}}`, 422, `"config"`},
		{"no config", "/api/v1/apps/play/playground/render", `{"values": {}}`, 422, `"config"`},
		{"values not strings", "/api/v1/apps/play/playground/render", `{"config": "web", "values": {"client_id": 3}}`, 422, `"values"`},
		{"misspelt field", "/api/v1/apps/play/playground/render", `{"config": "web", "valeus": {}}`, 422, "valeus"},
		{"broken template", "/api/v1/apps/play/playground/render", `{"config": {"name": "web", "link_url": "https://p.example/a?x={{nope}}", "token_url": "https://p.example/t", "access_token_variable_name": "access_token"}, "values": {}}`, 422, "oauth_configs[0].link_url"},
		{"unknown app", "/api/v1/apps/ghost/playground/render", `{"config": "web"}`, 404, ""},
		{"bad path", "/api/v1/playground/extract", `{"path": "$.[", "response": "{}"}`, 422, `"path"`},
		{"no path", "/api/v1/playground/extract", `{"response": "{}"}`, 422, `"path"`},
		{"not a response", "/api/v1/playground/extract", `{"path": "$.a", "response": "<html>oops</html>", "content_type": "text/html"}`, 422, `"response"`},
		{"nothing selected", "/api/v1/playground/extract", `{"path": "$.access_token", "response": "{\"ok\": false, \"error\": \"invalid_code\"}"}`, 422, "error, ok"},
	} {
		resp, body := h.do("POST", tc.path, testAdminKey, "application/json", tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.field) {
			t.Errorf("%s: got HTTP %d %s, want %d naming %s", tc.name, resp.StatusCode, body, tc.status, tc.field)
		}
	}
	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "runtime", "app": "play"}`))
	key := created["key"].(string)
	h.expect(http.StatusForbidden, "POST", "/api/v1/apps/play/playground/render", key, "application/json", `{"config": "web"}`)
	h.expect(http.StatusForbidden, "POST", "/api/v1/playground/extract", key, "application/json", `{"path": "$.a", "response": "{}"}`)
}

// TestPlaygroundExtracts runs extraction paths over a Slack-shaped JSON
// answer and a form-encoded one.
func TestPlaygroundExtracts(t *testing.T) {
	h := startLatchkey(t)
	for _, tc := range []struct{ path, response, contentType, want string }{
		{"$.authed_user.access_token", `{"ok": true, "authed_user": {"access_token": "xoxp-1"}}`, "application/json", "xoxp-1"},
		{"expires_in", `{"expires_in": 28800}`, "", "28800"},
		{"$.access_token", "access_token=gho_1&token_type=bearer", "application/x-www-form-urlencoded", "gho_1"},
	} {
		body := `{"path": ` + quote(tc.path) + `, "response": ` + quote(tc.response) + `, "content_type": ` + quote(tc.contentType) + `}`
		got := decode(t, h.expect(http.StatusOK, "POST", "/api/v1/playground/extract", testAdminKey, "application/json", body))
		if got["value"] != tc.want {
			t.Errorf("%s: got %v, want %q", tc.path, got["value"], tc.want)
		}
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
