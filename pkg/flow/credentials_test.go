package flow_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// A value that a JSON body truly cannot carry (invalid UTF-8, RFC 8259
// §8.1) fails the token request with an error naming it, whether the engine
// adds it (a client secret the body leaves out) or the body's template names
// it; nothing is sent to the provider and nothing is replaced unseen.
func TestValueAJSONBodyCannotCarryIsNamed(t *testing.T) {
	e := newEnv(t)
	p := providertest.New(t, providertest.Options{Now: e.clock.Now})
	e.save(fmt.Sprintf(`
name: crm
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: tenant_hint, level: org}
  - {name: access_token, level: user, secret: true}
oauth_configs:
  - name: added
    link_url: "%[1]s/oauth/authorize"
    token_url: "%[1]s/oauth/token"
    request_encoding: json
    access_token_variable_name: access_token
  - name: named
    link_url: "%[1]s/oauth/authorize"
    token_url: "%[1]s/oauth/token"
    request_encoding: json
    request_body: '{"grant_type": "authorization_code", "code": {{auth_code}}, "hint": {{tenant_hint}}}'
    access_token_variable_name: access_token
`, p.BaseURL()))
	for config, values := range map[string]map[string]string{
		"added": {"client_id": p.ClientID(), "client_secret": "bad-\xff-secret", "tenant_hint": "x"},
		"named": {"client_id": p.ClientID(), "client_secret": p.ClientSecret(), "tenant_hint": "bad-\xff"},
	} {
		e.install("crm", "acme", values)
		key := latchkey.ConnectionKey{App: "crm", Org: "acme", User: "alice", Config: config}
		_, err := e.connect(p, key)
		want := map[string]string{"added": "client_secret", "named": "{{tenant_hint}}"}[config]
		if latchkey.ErrorCode(err) != latchkey.EINVALID || !strings.Contains(latchkey.ErrorMessage(err), want) ||
			!strings.Contains(latchkey.ErrorMessage(err), "not valid UTF-8") || strings.Contains(latchkey.ErrorMessage(err), "bad-") {
			t.Errorf("%s: got %v, want an EINVALID error naming %s and no value", config, err, want)
		}
	}
	if n := len(p.RequestsTo(providertest.EndpointToken)); n != 0 {
		t.Errorf("got %d token requests, want none", n)
	}
}
