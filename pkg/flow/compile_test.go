package flow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

const validDoc = `
name: crm
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: p
    link_url: https://p.example.com/authorize?client_id={{client_id}}
    token_url: https://p.example.com/token
    request_body: '{"code": {{auth_code}}, "client_id": {{client_id}}}'
    extraction_path_access_token: $.access_token
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

// TestCompileNamesEveryBrokenField saves documents each broken in one place
// and checks the error names that field.
func TestCompileNamesEveryBrokenField(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, field string
	}{
		{"a broken template", `{"code": {{auth_code}}`, `{"code": {{auth_code}`, "oauth_configs[0].request_body"},
		{"a body that is no JSON object", `{"code": {{auth_code}}, "client_id": {{client_id}}}`, `code={{auth_code}}`, "oauth_configs[0].request_body"},
		{"a broken JSONPath", "extraction_path_access_token: $.access_token", "extraction_path_access_token: $.[", "oauth_configs[0].extraction_path_access_token"},
		{"an unknown value in a template", "client_id={{client_id}}", "client_id={{clientid}}", "oauth_configs[0].link_url"},
		{"a variable name that names no setting", "access_token_variable_name: access_token", "access_token_variable_name: token", "oauth_configs[0].access_token_variable_name"},
		{"a relative token URL", "token_url: https://p.example.com/token", "token_url: /token", "oauth_configs[0].token_url"},
		{"a host taken from a value", "token_url: https://p.example.com/token", "token_url: https://{{client_id}}/token", "oauth_configs[0].token_url"},
		{"a setting of no level", "{name: client_id, level: org}", "{name: client_id, level: team}", "settings[0].level"},
		{"an unknown grant", "token_url: https://p.example.com/token", "token_url: https://p.example.com/token\n    grant_type: password", "oauth_configs[0].grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validDoc, tc.from) {
				t.Fatalf("the document lacks %q", tc.from)
			}
			app, err := latchkey.ParseApp([]byte(strings.Replace(validDoc, tc.from, tc.to, 1)))
			if err == nil {
				_, err = flow.Compile(app)
			}
			var le *latchkey.Error
			if !errors.As(err, &le) || le.Code != latchkey.EINVALID {
				t.Fatalf("got %v, want an invalid error", err)
			}
			for _, f := range le.Fields {
				if f.Field == tc.field {
					return
				}
			}
			t.Fatalf("got fields %v, want one naming %s", le.Fields, tc.field)
		})
	}
	app, err := latchkey.ParseApp([]byte(validDoc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flow.Compile(app); err != nil {
		t.Fatalf("the valid document: %v", err)
	}
}
