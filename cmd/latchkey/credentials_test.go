package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// credentialsApp is an app whose bodies leave the client credentials out,
// so that the engine adds them as its client_auth says.
const credentialsApp = `
name: creds
allowed_return_urls: ["https://app.example.com/"]
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: body
    link_url: "{{provider}}/oauth/authorize"
    token_url: "{{provider}}/oauth/token"
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
  - name: json
    link_url: "{{provider}}/oauth/authorize"
    token_url: "{{provider}}/oauth/token"
    request_encoding: json
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
  - name: basic
    client_auth: basic
    link_url: "{{provider}}/oauth/authorize"
    token_url: "{{provider}}/oauth/token"
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

// TestClientSecretWithALineBreakIsSent installs an org whose client secret
// holds a line break, which a form or JSON body and a Basic header can all
// carry: the engine adds it to the token request for every client_auth and
// encoding, encoded for where it goes, and the user connects. (It was
// skipped without a word, and the provider answered bad_client_secret.)
func TestClientSecretWithALineBreakIsSent(t *testing.T) {
	const secret = "first-line\nsecond line & more=1"
	h := startLatchkey(t)
	provider := providertest.New(t, providertest.Options{ClientID: "creds-client", ClientSecret: secret, Now: h.clock.Now,
		AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/creds", testAdminKey, "application/yaml",
		strings.ReplaceAll(credentialsApp, "{{provider}}", provider.BaseURL()))
	values, _ := json.Marshal(map[string]string{"client_id": "creds-client", "client_secret": secret})
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/creds/orgs/acme/settings", testAdminKey, "application/json", string(values))

	for _, config := range []string{"body", "json", "basic"} {
		link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/creds/orgs/acme/users/u-1/connections/"+config+"/link",
			testAdminKey, "application/json", `{}`))
		resp, _ := h.do("POST", strings.TrimPrefix(link["url"].(string), h.main.URL), "", "application/x-www-form-urlencoded", "")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: allow: got HTTP %d, want 303", config, resp.StatusCode)
		}
		cb := provider.Authorize(t, resp.Header.Get("Location"))
		if resp, page := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: callback: got HTTP %d, want 200:\n%s", config, resp.StatusCode, page)
		}
		h.expect(http.StatusOK, "GET", "/api/v1/apps/creds/orgs/acme/users/u-1/connections/"+config, testAdminKey, "", "")
	}
	h.assertNoLeak(secret)
}
