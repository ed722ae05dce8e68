package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// signedIn signs ada in to the builder UI and returns her browser and the
// headers of a change in env ("" for none: the default environment).
func signedIn(t *testing.T, h *harness) (*browserClient, func(env string) map[string]string) {
	t.Helper()
	addAdmin(t, h)
	b := newBrowserClient(t, h.main.URL)
	resp, body := b.send("POST", "/api/v1/session", nil, "application/json", `{"email":"`+testAdminEmail+`","password":"`+testAdminPassword+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in: got HTTP %d %s", resp.StatusCode, body)
	}
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(body), &sess); err != nil {
		t.Fatal(err)
	}
	return b, func(env string) map[string]string {
		hdr := map[string]string{httpapi.CSRFHeader: sess.CSRFToken}
		if env != "" {
			hdr[httpapi.EnvironmentHeader] = env
		}
		return hdr
	}
}

// newKey creates an admin API key through the UI in env and returns it.
func newKey(t *testing.T, b *browserClient, hdr map[string]string) string {
	t.Helper()
	resp, body := b.send("POST", "/api/v1/apikeys", hdr, "application/json", `{"scope": "admin", "name": "backend"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating a key: got HTTP %d %s", resp.StatusCode, body)
	}
	var out struct {
		Key    string          `json:"key"`
		APIKey latchkey.APIKey `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Key == "" {
		t.Fatalf("created key: %s", body)
	}
	if env := hdr[httpapi.EnvironmentHeader]; env != "" && string(out.APIKey.Env) != env {
		t.Fatalf("the key made in %s says environment %q", env, out.APIKey.Env)
	}
	return out.Key
}

// TestDevKeyIsRefusedProdData puts an app in prod through the UI and walks
// every route of the API with an admin key of dev: each route of an app
// answers for prod's app what it answers for an app that exists nowhere
// (404, or for a list of its children an empty list), so
// nothing tells that prod has it, and no answer holds anything of prod's.
// The one route that creates an app is left out: it would create dev's own. prod's own key sees it; a dev key that
// names prod in the environment header is refused.
func TestDevKeyIsRefusedProdData(t *testing.T) {
	eachDatabase(t, func(t *testing.T, databaseURL string) {
		h := startLatchkeyWith(t, databaseURL, nil)
		b, hdr := signedIn(t, h)
		doc := "name: crm\nlabel: Production CRM\nsettings:\n  - {name: client_id, level: org, required: true}\n"
		if resp, body := b.send("PUT", "/api/v1/apps/crm", hdr("prod"), "application/yaml", doc); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT prod's app: got HTTP %d %s", resp.StatusCode, body)
		}
		if resp, body := b.send("PUT", "/api/v1/apps/crm/orgs/acme/settings", hdr("prod"), "application/json", `{"client_id": "prod-client-id"}`); resp.StatusCode/100 != 2 {
			t.Fatalf("PUT prod's installation: got HTTP %d %s", resp.StatusCode, body)
		}
		devKey, prodKey := newKey(t, b, hdr("")), newKey(t, b, hdr("prod"))

		h.expect(http.StatusOK, "GET", "/api/v1/apps/crm", prodKey, "", "")
		if resp, _ := h.do("GET", "/api/v1/apps", devKey, "", ""); resp.StatusCode != http.StatusOK || resp.Header.Get(httpapi.EnvironmentHeader) != "dev" {
			t.Fatalf("dev's list: got HTTP %d in %q", resp.StatusCode, resp.Header.Get(httpapi.EnvironmentHeader))
		}
		req, _ := http.NewRequest("GET", h.main.URL+"/api/v1/apps/crm", nil)
		req.Header.Set("Authorization", "Bearer "+devKey)
		req.Header.Set(httpapi.EnvironmentHeader, "prod")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a dev key naming prod: got HTTP %d, want 403", resp.StatusCode)
		}

		params := strings.NewReplacer(":org", "acme", ":user", "ann", ":config", "main", ":name", "client_id",
			":id", "x1", ":env", "prod", ":api", "list", "*", "v1/things")
		walked := 0
		for _, r := range h.main.api.Routes() {
			if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "CONNECT" || r.Method == "TRACE" || strings.HasPrefix(r.Path, "/api/v1/session") {
				continue
			}
			if r.Method == "PUT" && r.Path == "/api/v1/apps/:app" {
				continue
			}
			path := params.Replace(r.Path)
			resp, body := h.do(r.Method, strings.ReplaceAll(path, ":app", "crm"), devKey, "application/json", `{}`)
			if strings.Contains(string(body), "Production CRM") || strings.Contains(string(body), "prod-client-id") {
				t.Errorf("%s %s with dev's key: the answer holds prod's data: %s", r.Method, r.Path, body)
			}
			if strings.Contains(r.Path, ":app") {
				none, _ := h.do(r.Method, strings.ReplaceAll(path, ":app", "nosuch"), devKey, "application/json", `{}`)
				if resp.StatusCode != none.StatusCode {
					t.Errorf("%s %s with dev's key: got HTTP %d for prod's app, %d for none: %s", r.Method, r.Path, resp.StatusCode, none.StatusCode, body)
				}
				// (Lists of an unknown app's children answer an empty list.)
				if r.Method == "GET" && resp.StatusCode != http.StatusNotFound && !strings.Contains(string(body), "[]") {
					t.Errorf("%s %s with dev's key: got HTTP %d %s, want 404", r.Method, r.Path, resp.StatusCode, body)
				}
			}
			walked++
		}
		if walked < 20 {
			t.Fatalf("walked %d routes, want every route of the API", walked)
		}
		h.expect(http.StatusOK, "GET", "/api/v1/apps/crm", prodKey, "", "")
		h.expect(http.StatusOK, "GET", "/api/v1/apps/crm/orgs/acme/settings", prodKey, "", "")
	})
}

// TestPromoteCopiesTheDocumentOnly saves a document in dev, shows the
// promotion's difference, applies it, and finds the document in prod with
// prod's org values untouched, audited in both environments.
func TestPromoteCopiesTheDocumentOnly(t *testing.T) {
	h := startLatchkey(t)
	b, hdr := signedIn(t, h)
	prodDoc := "name: crm\nlabel: CRM\nsettings:\n  - {name: client_id, level: org, required: true}\n"
	devDoc := "name: crm\nlabel: CRM (new scopes)\nsettings:\n  - {name: client_id, level: org, required: true}\n"
	for env, doc := range map[string]string{"prod": prodDoc, "": devDoc} {
		if resp, body := b.send("PUT", "/api/v1/apps/crm", hdr(env), "application/yaml", doc); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT in %q: got HTTP %d %s", env, resp.StatusCode, body)
		}
	}
	if resp, body := b.send("PUT", "/api/v1/apps/crm/orgs/acme/settings", hdr("prod"), "application/json", `{"client_id": "prod-client-id"}`); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT prod's installation: got HTTP %d %s", resp.StatusCode, body)
	}
	if resp, body := b.send("POST", "/api/v1/apps/crm/promote", hdr(""), "application/json", `{"to": "staging"}`); resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("promote to an unknown environment: got HTTP %d %s, want a refusal", resp.StatusCode, body)
	}
	resp, body := b.send("POST", "/api/v1/apps/crm/promote", hdr(""), "application/json", `{"to": "prod"}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `- `) || !strings.Contains(body, `+ `) || !strings.Contains(body, "CRM (new scopes)") || !strings.Contains(body, `"applied":false`) {
		t.Fatalf("promotion preview: got HTTP %d %s, want the difference, not applied", resp.StatusCode, body)
	}
	if resp, body := b.send("GET", "/api/v1/apps/crm", hdr("prod"), "", ""); !strings.Contains(body, `"label":"CRM"`) {
		t.Fatalf("prod's app after the preview: got HTTP %d %s, want it unchanged", resp.StatusCode, body)
	}
	resp, body = b.send("POST", "/api/v1/apps/crm/promote", hdr(""), "application/json", `{"to": "prod", "apply": true}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"applied":true`) {
		t.Fatalf("promotion: got HTTP %d %s", resp.StatusCode, body)
	}
	if _, body := b.send("GET", "/api/v1/apps/crm", hdr("prod"), "", ""); !strings.Contains(body, "CRM (new scopes)") {
		t.Fatalf("prod's app after the promotion: %s", body)
	}
	if _, body := b.send("GET", "/api/v1/apps/crm/orgs/acme/settings", hdr("prod"), "", ""); !strings.Contains(body, "prod-client-id") {
		t.Fatalf("prod's installation after the promotion: %s, want its own values", body)
	}
	if _, body := b.send("GET", "/api/v1/apps/crm/orgs/acme/settings", hdr(""), "", ""); strings.Contains(body, "prod-client-id") {
		t.Fatalf("dev's installation after the promotion holds prod's values: %s", body)
	}
	h.main.api.Close() // writes the queued audit events
	for _, env := range []string{"", "prod"} {
		if _, body := b.send("GET", "/api/v1/audit?action=app.promote", hdr(env), "", ""); !strings.Contains(body, "promoted from dev to prod") {
			t.Errorf("the audit of %q: %s, want the promotion", env, body)
		}
	}
}

// TestApplyWithEnv applies one document to dev and, with --env prod, to
// prod with the operator's key (LATCHKEY_ADMIN_API_KEY); a dev key's
// apply --env prod is refused.
func TestApplyWithEnv(t *testing.T) {
	h := startLatchkey(t)
	b, hdr := signedIn(t, h)
	devKey := newKey(t, b, hdr(""))
	file := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(file, []byte("name: crm\nlabel: CRM\nsettings:\n  - {name: client_id, level: org}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_API_KEY", testAdminKey)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"apply", "--env", "prod", "-f", file, "--server", h.main.URL}, &stdout, &stderr); err != nil {
		t.Fatalf("apply --env prod: %v %s", err, stderr.String())
	}
	if resp, _ := b.send("GET", "/api/v1/apps/crm", hdr("prod"), "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("prod's app after apply --env prod: got HTTP %d", resp.StatusCode)
	}
	if resp, _ := b.send("GET", "/api/v1/apps/crm", hdr(""), "", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dev's app after apply --env prod: got HTTP %d, want 404", resp.StatusCode)
	}
	t.Setenv("LATCHKEY_API_KEY", devKey)
	if err := run(context.Background(), []string{"apply", "--env", "prod", "-f", file, "--server", h.main.URL}, &stdout, &stderr); err == nil {
		t.Fatal("apply --env prod with a dev key: got no error, want a refusal")
	}
	if err := run(context.Background(), []string{"apply", "-f", file, "--server", h.main.URL}, &stdout, &stderr); err != nil {
		t.Fatalf("apply with a dev key: %v %s", err, stderr.String())
	}
	if resp, _ := b.send("GET", "/api/v1/apps/crm", hdr(""), "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("dev's app after apply: got HTTP %d", resp.StatusCode)
	}
}

// TestBrowserEnvironmentSwitcher signs in to the builder UI, which acts in
// dev, and switches to prod with the header's switcher: the apps list shows
// each environment's own app, and the choice holds on every screen.
func TestBrowserEnvironmentSwitcher(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	for env, label := range map[string]string{"dev": "CRM with a test client", "prod": "CRM in production"} {
		req, _ := http.NewRequest("PUT", h.main.URL+"/api/v1/apps/crm", strings.NewReader("name: crm\nlabel: "+label+"\n"))
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set(httpapi.EnvironmentHeader, env)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT crm in %s: %v %v", env, resp, err)
		}
		resp.Body.Close()
	}
	var list string
	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(`//td[text()="CRM with a test client"]`),
		chromedp.Text("main", &list, chromedp.ByQuery))
	if strings.Contains(list, "CRM in production") {
		t.Fatal("dev's apps list shows prod's app")
	}
	browse(t, ctx, "switch to prod", chromedp.WaitReady(`//option[text()="prod"]`),
		chromedp.SetValue("header select", "prod", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('header select').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.WaitVisible(`//td[text()="CRM in production"]`))
	checkPage(t, ctx, "env-prod-apps")
	var env string
	browse(t, ctx, "the audit screen keeps prod", openUI(h, "#/audit"), chromedp.WaitVisible("header select", chromedp.ByQuery),
		chromedp.Value("header select", &env, chromedp.ByQuery))
	if env != "prod" {
		t.Fatalf("the audit screen's switcher: got %q, want prod", env)
	}

	// Back in dev, the app's screen promotes its document to prod: the
	// difference first, then the copy.
	var diff, done string
	browse(t, ctx, "promote from dev", chromedp.SetValue("header select", "dev", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('header select').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		openUI(h, "#/apps/crm"), chromedp.WaitVisible("#promote-to", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Show changes"]`), chromedp.WaitVisible("#promote-diff", chromedp.ByQuery),
		chromedp.Text("#promote-diff", &diff, chromedp.ByQuery))
	if !strings.Contains(diff, "- ") || !strings.Contains(diff, "CRM with a test client") {
		t.Fatalf("the promotion's difference: got %q", diff)
	}
	browse(t, ctx, "promote", chromedp.Click(`//button[contains(., "Promote crm to prod")]`),
		chromedp.WaitVisible(`//p[@role="status"][contains(., "Promoted")]`), chromedp.Text(`//p[@role="status"][contains(., "Promoted")]`, &done))
	req, _ := http.NewRequest("GET", h.main.URL+"/api/v1/apps/crm", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	req.Header.Set(httpapi.EnvironmentHeader, "prod")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var app latchkey.App
	if err := json.NewDecoder(resp.Body).Decode(&app); err != nil || app.Label != "CRM with a test client" {
		t.Fatalf("prod's app after the UI's promotion: got %q (%v)", app.Label, err)
	}
}
