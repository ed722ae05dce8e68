package flow_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

const previewApp = `
name: preview
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: shop, level: org}
  - {name: signing, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
oauth_configs:
  - name: shopify
    link_url: "https://{{shop}}.myshopify.example/admin/oauth/authorize?client_id={{client_id}}"
    token_url: "https://{{shop}}.myshopify.example/admin/oauth/access_token?sig={{signing}}"
    request_encoding: json
    token_headers: {X-Signature: "v1 {{signing}}", X-Api-Key: "{{api_key}}"}
    values: {api_key: fixed-api-key-value}
    auth_params: {k: "{{shop}}"}
    access_token_variable_name: access_token
`

// TestRenderPreviewMasksSecretsWhereverTheyLand renders a config whose
// secrets land in a URL query, headers and a JSON body: each is masked, and everything else is rendered as it would be sent.
func TestRenderPreviewMasksSecretsWhereverTheyLand(t *testing.T) {
	env := newEnv(t)
	app := env.save(previewApp)
	secrets := []string{"client-secret-value", "signing&secret value", "fixed-api-key-value"}
	p, err := env.engine.RenderPreview(env.ctx, app.Name, app.OAuthConfigs[0], map[string]string{
		"client_id": "cid", "client_secret": secrets[0], "shop": "acme", "signing": secrets[1]})
	if err != nil {
		t.Fatalf("RenderPreview: %v", err)
	}
	link, err := url.Parse(p.LinkURL)
	if err != nil {
		t.Fatal(err)
	}
	if link.Host != "acme.myshopify.example" || link.Query().Get("state") != "STATE" || link.Query().Get("k") != "acme" {
		t.Errorf("link: got %s, want acme's host, state STATE and k=acme", p.LinkURL)
	}
	tr := p.TokenRequest
	if want := "https://acme.myshopify.example/admin/oauth/access_token?sig=" + latchkey.Redacted; tr.URL != want {
		t.Errorf("token URL: got %s, want %s", tr.URL, want)
	}
	if tr.Headers["X-Signature"] != "v1 "+latchkey.Redacted || tr.Headers["X-Api-Key"] != latchkey.Redacted || tr.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers: got %v, want the signature and the api key masked and a JSON content type", tr.Headers)
	}
	for _, want := range []string{`"client_secret":"********"`, `"code_verifier":"********"`, `"code":"SAMPLE_AUTH_CODE"`, `"client_id":"cid"`} {
		if !strings.Contains(tr.Body, want) {
			t.Errorf("body: got %s, want %s in it", tr.Body, want)
		}
	}
	all := p.LinkURL + tr.URL + tr.Body + strings.Join(mapValues(tr.Headers), " ")
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if strings.Contains(all, form) {
				t.Errorf("a secret (%q) is in the preview", form)
			}
		}
	}

	// A missing value is named as the playground's field.
	_, err = env.engine.RenderPreview(env.ctx, app.Name, app.OAuthConfigs[0], map[string]string{"client_id": "cid"})
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EINVALID || len(le.Fields) == 0 || le.Fields[0].Field != "values.shop" {
		t.Fatalf("missing shop: got %v, want EINVALID naming values.shop", err)
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
