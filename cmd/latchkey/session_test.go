package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/store"
)

const testAdminEmail = "ada@example.com"
const testAdminPassword = "correct horse battery staple"

// addAdmin creates the test admin account on h's store.
func addAdmin(tb testing.TB, h *harness) {
	tb.Helper()
	hash, err := httpapi.HashPassword(testAdminPassword)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.main.Store().CreateAdmin(tb.Context(), store.Admin{Email: testAdminEmail, PasswordHash: hash}); err != nil {
		tb.Fatal(err)
	}
}

// browserClient is an HTTP client with a cookie jar, as a browser is.
type browserClient struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func newBrowserClient(tb testing.TB, base string) *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{tb: tb, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserClient) send(method, path string, header map[string]string, contentType, body string) (*http.Response, string) {
	b.tb.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// TestSessionSignInAndCSRF signs an admin in to the builder UI: a wrong
// password is refused, the cookie is HttpOnly and SameSite, reads work with
// the cookie alone, and every change needs the session's CSRF token.
func TestSessionSignInAndCSRF(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	b := newBrowserClient(t, h.main.URL)

	resp, body := b.send("POST", "/api/v1/session", nil, "application/json", `{"email":"ada@example.com","password":"wrong password!!"}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: got HTTP %d %s, want 401", resp.StatusCode, body)
	}
	if resp, _ := b.send("GET", "/api/v1/apps", nil, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("before sign-in: got HTTP %d, want 401", resp.StatusCode)
	}

	resp, body = b.send("POST", "/api/v1/session", nil, "application/json", `{"email":"Ada@example.com","password":"`+testAdminPassword+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in: got HTTP %d %s, want 201", resp.StatusCode, body)
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{httpapi.SessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("got Set-Cookie %q, want it to contain %q", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("got Set-Cookie %q over plain HTTP, want no Secure", cookie)
	}
	var sess struct {
		Email     string `json:"email"`
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(body), &sess); err != nil || sess.CSRFToken == "" || sess.Email != testAdminEmail {
		t.Fatalf("got session %s, want ada's with a CSRF token", body)
	}

	if resp, body := b.send("GET", "/api/v1/apps", nil, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("list apps with the cookie: got HTTP %d %s, want 200", resp.StatusCode, body)
	}
	doc := "name: notes\nsettings:\n  - {name: client_id, level: org, required: true}\n"
	if resp, body := b.send("PUT", "/api/v1/apps/notes", nil, "application/yaml", doc); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("change without the CSRF token: got HTTP %d %s, want 403 naming CSRF", resp.StatusCode, body)
	}
	if resp, _ := b.send("PUT", "/api/v1/apps/notes", map[string]string{"X-CSRF-Token": "forged"}, "application/yaml", doc); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("change with a wrong CSRF token: got HTTP %d, want 403", resp.StatusCode)
	}
	csrf := map[string]string{"X-CSRF-Token": sess.CSRFToken}
	if resp, body := b.send("PUT", "/api/v1/apps/notes", csrf, "application/yaml", doc); resp.StatusCode != http.StatusCreated {
		t.Fatalf("change with the CSRF token: got HTTP %d %s, want 201", resp.StatusCode, body)
	}
	// The audit log names the admin.
	_, body = b.send("GET", "/api/v1/audit?action=app.put", nil, "", "")
	if !strings.Contains(body, `"actor":"admin:ada@example.com"`) {
		t.Errorf("got audit %s, want the app.put by admin:ada@example.com", body)
	}

	// Signing out ends the session on the server, not only in the browser.
	if resp, _ := b.send("DELETE", "/api/v1/session", csrf, "", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-out: got HTTP %d, want 204", resp.StatusCode)
	}
	u, _ := url.Parse(h.main.URL)
	stale := &http.Cookie{Name: httpapi.SessionCookie, Value: cookieValue(cookie)}
	b.c.Jar.SetCookies(u, []*http.Cookie{stale})
	if resp, _ := b.send("GET", "/api/v1/apps", nil, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old cookie after sign-out: got HTTP %d, want 401", resp.StatusCode)
	}
}

func cookieValue(setCookie string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(setCookie, httpapi.SessionCookie+"="), ";")
	return v
}

// TestInstallPrompt issues an install link for an org and fills the app's
// org-level settings through the server-rendered prompt: a missing required
// value is shown beside its field, secrets are never echoed back, an empty
// secret keeps the stored one (through a second link: each installs once),
// and a forged or expired link is refused.
func TestInstallPrompt(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", strings.ReplaceAll(seedApp, "{{provider}}", "https://provider.example"))
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
	u, _ := url.Parse(link["url"].(string))
	if u.Path != "/install/capacity" || len(u.Query().Get("token")) < 32 {
		t.Fatalf("got install link %s, want /install/capacity with a token", u)
	}
	path := u.RequestURI()
	resp, page := h.do("GET", path, "", "", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("prompt: got HTTP %d Referrer-Policy %q, want 200 no-referrer", resp.StatusCode, resp.Header.Get("Referrer-Policy"))
	}
	for _, want := range []string{`name="s_client_id"`, `type="password" id="s_client_secret"`, "Client id issued by the provider", `aria-required="true"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("prompt lacks %q", want)
		}
	}
	if strings.Contains(string(page), "access_token") {
		t.Error("the prompt shows a user-level setting")
	}

	// A required value missing: 422 and the message beside the field.
	form := url.Values{"s_client_id": {"cid"}, "s_client_secret": {"the-org-secret-1"}, "s_redirect_uri": {""}}
	resp, page = h.do("POST", path, "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(page), `id="e_redirect_uri">redirect_uri is required`) {
		t.Fatalf("missing value: got HTTP %d %s, want 422 with the message beside redirect_uri", resp.StatusCode, page)
	}
	if strings.Contains(string(page), "the-org-secret-1") {
		t.Error("the secret was echoed back into the form")
	}
	if !strings.Contains(string(page), `value="cid"`) {
		t.Error("the entered client id was not kept in the form")
	}

	form.Set("s_redirect_uri", seedCallback)
	resp, page = h.do("POST", path, "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "is installed") {
		t.Fatalf("save: got HTTP %d %s, want 200 installed", resp.StatusCode, page)
	}
	// Again, through a new link, with the secret left empty: the stored one
	// is kept.
	link = decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
	u, _ = url.Parse(link["url"].(string))
	path = u.RequestURI()
	form.Set("s_client_secret", "")
	form.Set("s_client_id", "cid2")
	h.expect(http.StatusOK, "POST", path, "", "application/x-www-form-urlencoded", form.Encode())
	inst, err := h.main.Store().GetInstallation(t.Context(), "capacity", "acme")
	if err != nil || inst.Values["client_secret"] != "the-org-secret-1" || inst.Values["client_id"] != "cid2" {
		t.Fatalf("got installation values with client_id %q and the secret kept=%v (err %v), want cid2 and kept",
			inst.Values["client_id"], inst.Values["client_secret"] == "the-org-secret-1", err)
	}

	// A forged token, a missing one, and an expired link are refused.
	if resp, _ := h.do("GET", u.Path+"?token=forged-token-0123456789abcdefghijklmnop", "", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a forged token: got HTTP %d, want 404", resp.StatusCode)
	}
	if resp, _ := h.do("GET", u.Path, "", "", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no token: got HTTP %d, want 400", resp.StatusCode)
	}
	link = decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))
	u, _ = url.Parse(link["url"].(string))
	h.clock.Advance(61 * 60 * 1e9)
	if resp, _ := h.do("GET", u.RequestURI(), "", "", ""); resp.StatusCode != http.StatusGone {
		t.Errorf("after an hour: got HTTP %d, want 410", resp.StatusCode)
	}
	h.assertNoLeak("the-org-secret-1")
}
