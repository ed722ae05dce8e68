package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The catalog through the API: listing with search and category, one entry
// with its document, an app made from an entry (never over an existing
// one), and discovery's refusal of a non-https issuer; then the CLI.
func TestProviderCatalogRoutesAndCommand(t *testing.T) {
	h := startLatchkey(t)
	list := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/providers?search=GOOGLE&category=suite", testAdminKey, "", ""))
	providers, _ := list["providers"].([]any)
	if len(providers) < 5 {
		t.Fatalf("search google in suite: got %d providers, want the Google products", len(providers))
	}
	for _, p := range providers {
		if m := p.(map[string]any); m["category"] != "suite" || m["docs_url"] == "" {
			t.Errorf("got %v, want suite entries with their docs link", m)
		}
	}
	all := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/providers", testAdminKey, "", ""))
	if n := len(all["providers"].([]any)); n < 150 {
		t.Errorf("the whole catalog: got %d providers, want at least 150", n)
	}

	sf := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/providers/salesforce", testAdminKey, "", ""))
	doc, _ := sf["document"].(map[string]any)
	if doc == nil || !strings.Contains(string(h.seen[len(h.seen)-1].body), `"login_host"`) {
		t.Fatalf("salesforce: got %v, want its document with the login_host setting", sf)
	}
	notFound := decode(t, h.expect(http.StatusNotFound, "GET", "/api/v1/providers/nope", testAdminKey, "", ""))
	if e, _ := notFound["error"].(map[string]any); e["code"] != "not_found" {
		t.Errorf("unknown provider: got %v, want not_found", notFound)
	}

	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/providers/hubspot/app", testAdminKey, "application/json", `{"name": "crm"}`))
	if created["name"] != "crm" {
		t.Fatalf("got %v, want the app crm", created)
	}
	h.expect(http.StatusOK, "GET", "/api/v1/apps/crm", testAdminKey, "", "")
	conflict := decode(t, h.expect(http.StatusConflict, "POST", "/api/v1/providers/pipedrive/app", testAdminKey, "application/json", `{"name": "crm"}`))
	if e, _ := conflict["error"].(map[string]any); e["code"] != "conflict" || !strings.Contains(string(h.seen[len(h.seen)-1].body), `"field":"name"`) {
		t.Errorf("over an existing app: got %v, want a conflict naming the field name", conflict)
	}
	h.expect(http.StatusUnauthorized, "POST", "/api/v1/providers/hubspot/app", "", "application/json", `{}`)
	bad := decode(t, h.expect(http.StatusUnprocessableEntity, "POST", "/api/v1/providers/discover", testAdminKey, "application/json", `{"issuer": "http://127.0.0.1:1"}`))
	if !strings.Contains(string(h.seen[len(h.seen)-1].body), `"field":"issuer"`) {
		t.Errorf("a non-https issuer: got %v, want the field issuer named", bad)
	}

	// The CLI: list from the embedded catalog, create on the server.
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"providers", "list", "--category", "support"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "zendesk") {
		t.Fatalf("providers list: got %v, %q, want zendesk among support", err, out.String())
	}
	t.Setenv("LATCHKEY_API_KEY", testAdminKey)
	out.Reset()
	if err := run(context.Background(), []string{"providers", "create", "github", "--name", "gh", "--server", h.main.URL}, &out, &errOut); err != nil {
		t.Fatalf("providers create: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), `app "gh" created`) || !strings.Contains(out.String(), "client_id, client_secret") {
		t.Errorf("providers create: got %q, want the app and the settings an org fills in", out.String())
	}
	h.expect(http.StatusOK, "GET", "/api/v1/apps/gh", testAdminKey, "", "")
}

// latchkey providers discover prints the document an issuer's metadata
// implies.
func TestProvidersDiscoverCommand(t *testing.T) {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer": "` + issuer + `", "authorization_endpoint": "` + issuer + `/authorize",
			"token_endpoint": "` + issuer + `/token", "revocation_endpoint": "` + issuer + `/revoke",
			"userinfo_endpoint": "` + issuer + `/userinfo", "scopes_supported": ["openid", "email", "offline_access"],
			"code_challenge_methods_supported": ["S256"], "token_endpoint_auth_methods_supported": ["client_secret_post"]}`))
	}))
	defer srv.Close()
	issuer = srv.URL
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"providers", "discover", "--issuer", issuer, "--name", "acme-idp"}, &out, &errOut); err != nil {
		t.Fatalf("discover: %v (%s)", err, errOut.String())
	}
	for _, want := range []string{"name: acme-idp", "link_url: " + issuer + "/authorize", "revocation_url: " + issuer + "/revoke", "- offline_access", "verify_api: userinfo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("discover: output lacks %q:\n%s", want, out.String())
		}
	}
}
