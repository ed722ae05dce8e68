package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/secretbox"
)

// oauthSetup turns dev's OAuth server on with two scopes, read (apps:read)
// and write (apps:write), as an admin would, and registers the partner
// dashboard: a public OAuth app with a loopback callback, as a CLI is.
func oauthSetup(t *testing.T, h *harness) (clientID string) {
	t.Helper()
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/server", testAdminKey, "application/json", `{"enabled":true}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/groups/readers", testAdminKey, "application/json", `{"permissions":["apps:read"]}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/groups/writers", testAdminKey, "application/json", `{"permissions":["apps:write"]}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/scopes/read", testAdminKey, "application/json", `{"description":"Read your apps","groups":["readers"]}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/scopes/write", testAdminKey, "application/json", `{"description":"Change your apps","groups":["writers"]}`)
	b := h.expect(http.StatusCreated, "POST", "/api/v1/oauth/apps", testAdminKey, "application/json",
		`{"name":"dashboard","label":"Partner dashboard","description":"Shows your integrations","redirect_uri":"http://127.0.0.1/callback","scopes":["read","write"],"public":true}`)
	var created struct {
		App struct {
			ClientID string `json:"client_id"`
		} `json:"app"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.App.ClientID == "" || created.Secret != "" {
		t.Fatalf("creating a public OAuth app: %s, want a client id and no secret", b)
	}
	return created.App.ClientID
}

// oauthPerson is a person's browser, signed in to Latchkey's builder UI.
func oauthPerson(t *testing.T, h *harness) *browserClient {
	t.Helper()
	b := newBrowserClient(t, h.main.URL)
	if resp, body := b.send("POST", "/api/v1/session", nil, "application/json", `{"email":"`+testAdminEmail+`","password":"`+testAdminPassword+`"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in: HTTP %d %s", resp.StatusCode, body)
	}
	return b
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// authorize goes through the authorization page as the person and returns
// the callback's query; consent is "allow", "deny", or "" when no form is
// expected (a live authorization answers at once).
func authorize(t *testing.T, b *browserClient, authURL, consent string) url.Values {
	t.Helper()
	u, _ := url.Parse(authURL)
	resp, page := b.send("GET", u.RequestURI(), nil, "", "")
	if consent != "" {
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the authorization page: HTTP %d %s, want the consent form", resp.StatusCode, page)
		}
		for _, want := range []string{"Partner dashboard", "Shows your integrations", "Read your apps", testAdminEmail} {
			if !strings.Contains(html.UnescapeString(page), want) {
				t.Errorf("the consent form does not show %q", want)
			}
		}
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the consent form has no CSRF field: %s", page)
		}
		resp, page = b.send("POST", u.RequestURI(), nil, "application/x-www-form-urlencoded",
			url.Values{"csrf_token": {html.UnescapeString(m[1])}, "consent": {consent}}.Encode())
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorizing: HTTP %d %s, want a redirect to the callback", resp.StatusCode, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "127.0.0.1" || loc.Path != "/callback" {
		t.Fatalf("authorizing sent the browser to %q, want the registered callback", resp.Header.Get("Location"))
	}
	return loc.Query()
}

// TestOAuthServerSeed000 walks seed 000 with golang.org/x/oauth2 as the
// OAuth app: an admin turns OAuth on and declares scopes and an app; a
// person authorizes it once (PKCE, state, iss) and is not asked again;
// the token has its scopes' rights and no more; refresh tokens rotate, and
// presenting a rotated one revokes the grant; revoking the authorization
// kills its tokens at once and brings the consent form back.
func TestOAuthServerSeed000(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	ctx := context.Background()

	// While OAuth is off, the token endpoint says so, in the seed's words.
	resp, body := h.do("POST", "/dev/oauth/token?grant_type=authorization_code&client_id=x&code=y", "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "OAuth is not enabled") {
		t.Fatalf("the token endpoint with OAuth off: HTTP %d %s, want 400 OAuth is not enabled", resp.StatusCode, body)
	}

	clientID := oauthSetup(t, h)
	meta := decode(t, h.expect(http.StatusOK, "GET", "/.well-known/oauth-authorization-server/dev/oauth", "", "", ""))
	issuer, _ := meta["issuer"].(string)
	if !strings.HasSuffix(issuer, "/dev/oauth") || meta["token_endpoint"] != issuer+"/token" || meta["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("metadata: %v", meta)
	}
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: "http://127.0.0.1/callback", Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{AuthURL: h.main.URL + "/dev/oauth/authorize", TokenURL: h.main.URL + "/dev/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}

	// Not signed in: sign in first, then come back.
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1-of-the-test", oauth2.S256ChallengeOption(verifier))
	anon := newBrowserClient(t, h.main.URL)
	u, _ := url.Parse(authURL)
	if resp, _ := anon.send("GET", u.RequestURI(), nil, "", ""); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/?next=") {
		t.Fatalf("authorizing while signed out: HTTP %d to %q, want the sign-in page with the way back", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The person allows: the callback gets code, state and iss.
	person := oauthPerson(t, h)
	q := authorize(t, person, authURL, "allow")
	if q.Get("state") != "state-1-of-the-test" || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("the callback's query: %v, want code, state-1 and iss %s", q, issuer)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	if tok.TokenType != "bearer" || tok.RefreshToken == "" || time.Until(tok.Expiry) < 7*time.Hour || tok.Extra("scope") != "read" {
		t.Fatalf("the token: %+v (scope %v), want a bearer token of 8 hours with a refresh token and scope read", tok, tok.Extra("scope"))
	}
	// A code is used once: the second exchange is refused and revokes the first's tokens.
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("exchanging the code again: %v, want invalid_grant", err)
	}
	h.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", tok.AccessToken, "", "")

	// The authorization is live: the next request is answered without a form.
	verifier = oauth2.GenerateVerifier()
	q = authorize(t, person, conf.AuthCodeURL("state-2-of-the-test", oauth2.S256ChallengeOption(verifier)), "")
	tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the second code: %v", err)
	}

	// The token reads apps (scope read → readers → apps:read), and nothing more.
	h.expect(http.StatusOK, "GET", "/api/v1/apps", tok.AccessToken, "", "")
	resp, body = h.do("PUT", "/api/v1/apps/crm", tok.AccessToken, "application/yaml", "name: crm\n")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("writing an app with a read token: HTTP %d %s (%s), want 403 insufficient_scope", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	h.expect(http.StatusForbidden, "GET", "/api/v1/apikeys", tok.AccessToken, "", "")
	h.expect(http.StatusForbidden, "GET", "/api/v1/oauth/apps", tok.AccessToken, "", "")
	// An API key's environment rule holds for tokens too.
	req, _ := http.NewRequest("GET", h.main.URL+"/api/v1/apps", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("X-Latchkey-Environment", "prod")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a dev token acting in prod: %v %v, want 403", resp.StatusCode, err)
	}

	// Refresh tokens rotate; the rotated one, presented again in the
	// seed's style (code=<refresh_token> in the query), revokes the grant.
	old := *tok
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil || fresh.RefreshToken == old.RefreshToken || fresh.AccessToken == old.AccessToken {
		t.Fatalf("refreshing: %+v %v, want new tokens", fresh, err)
	}
	h.expect(http.StatusOK, "GET", "/api/v1/apps", fresh.AccessToken, "", "")
	resp, body = h.do("POST", "/dev/oauth/token?"+url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "code": {old.RefreshToken}}.Encode(), "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_grant") || !strings.Contains(string(body), "used already") {
		t.Fatalf("presenting a rotated refresh token: HTTP %d %s, want 400 invalid_grant", resp.StatusCode, body)
	}
	resp, _ = h.do("GET", "/api/v1/apps", fresh.AccessToken, "", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("the grant's newest token after reuse: HTTP %d (%s), want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("the grant's newest refresh token after reuse: %v, want invalid_grant", err)
	}

	// An admin sees the authorization and revokes it: its tokens die at
	// once, and the consent form comes back.
	verifier = oauth2.GenerateVerifier()
	q = authorize(t, person, conf.AuthCodeURL("state-3-of-the-test", oauth2.S256ChallengeOption(verifier)), "")
	tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Authorizations []struct {
			ID      string `json:"id"`
			Name    string `json:"client_name"`
			Subject string `json:"subject"`
		} `json:"authorizations"`
	}
	_ = json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/oauth/authorizations", testAdminKey, "", ""), &list)
	if len(list.Authorizations) != 1 || list.Authorizations[0].Name != "dashboard" || list.Authorizations[0].Subject != testAdminEmail {
		t.Fatalf("the authorizations: %+v, want ada's of dashboard", list)
	}
	h.expect(http.StatusNoContent, "DELETE", "/api/v1/oauth/authorizations/"+list.Authorizations[0].ID, testAdminKey, "", "")
	h.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", tok.AccessToken, "", "")
	resp, body = h.do("POST", "/dev/oauth/token", "", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {tok.RefreshToken}}.Encode())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "App is not authorized by the user") {
		t.Fatalf("refreshing after the revocation: HTTP %d %s, want the seed's 'App is not authorized by the user'", resp.StatusCode, body)
	}
	q = authorize(t, person, conf.AuthCodeURL("state-4-of-the-test", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "deny")
	if q.Get("error") != "access_denied" || q.Get("state") != "state-4-of-the-test" || q.Get("iss") != issuer || q.Get("code") != "" {
		t.Fatalf("denying: the callback got %v, want error=access_denied with state and iss", q)
	}

	// A scope in use cannot be deleted: the refusal names the app.
	resp, body = h.do("DELETE", "/api/v1/oauth/scopes/read", testAdminKey, "", "")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "dashboard") {
		t.Fatalf("deleting a scope in use: HTTP %d %s, want 409 naming dashboard", resp.StatusCode, body)
	}

	// No code, token or secret is ever in the log.
	for _, secret := range []string{old.AccessToken, old.RefreshToken, fresh.AccessToken, fresh.RefreshToken, tok.AccessToken, tok.RefreshToken} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("a token of the OAuth server is in the log")
		}
	}
}

// TestOAuthServerErrorTable answers each row of seed 000's error table with
// its status, an RFC 6749 §5.2 code and the seed's words; and a
// confidential OAuth app authenticates with its secret.
func TestOAuthServerErrorTable(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	clientID := oauthSetup(t, h)
	token := func(q url.Values) (int, map[string]any) {
		resp, body := h.do("POST", "/dev/oauth/token?"+q.Encode(), "", "", "")
		return resp.StatusCode, decode(t, body)
	}
	for _, row := range []struct {
		what   string
		query  url.Values
		status int
		code   string
		words  string
	}{
		{"an unknown client id", url.Values{"grant_type": {"authorization_code"}, "client_id": {"lkc_nosuch"}, "code": {"lkac_x.y"}}, 400, "invalid_client", "Invalid client ID"},
		{"an invalid code", url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {"lkac_x.y"}, "code_verifier": {oauth2.GenerateVerifier()}}, 400, "invalid_grant", "Invalid authorization code"},
		{"a grant type of neither kind", url.Values{"grant_type": {"password"}, "client_id": {clientID}}, 400, "unsupported_grant_type", "Only authorization_code and refresh_token are accepted values"},
		{"no code at all", url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}}, 400, "invalid_request", "Token is missing"},
		{"an invalid refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "code": {"lkrt_x.y"}}, 400, "invalid_grant", "Invalid refresh token"},
	} {
		status, body := token(row.query)
		if status != row.status || body["error"] != row.code || !strings.Contains(body["error_description"].(string), row.words) {
			t.Errorf("%s: HTTP %d %v, want %d %s saying %q", row.what, status, body, row.status, row.code, row.words)
		}
	}

	// A confidential app: its secret is shown once and required.
	b := h.expect(http.StatusCreated, "POST", "/api/v1/oauth/apps", testAdminKey, "application/json",
		`{"name":"ci","label":"CI job","redirect_uri":"https://ci.example.com/cb","scopes":["read"]}`)
	var created struct {
		App struct {
			ClientID string `json:"client_id"`
		} `json:"app"`
		Secret string `json:"client_secret"`
	}
	_ = json.Unmarshal(b, &created)
	if created.Secret == "" || strings.Contains(string(h.expect(http.StatusOK, "GET", "/api/v1/oauth/apps/ci", testAdminKey, "", "")), created.Secret) {
		t.Fatalf("a confidential app's secret: shown %q at creation, and it must never be shown again", created.Secret)
	}
	conf := &oauth2.Config{ClientID: created.App.ClientID, ClientSecret: created.Secret, RedirectURL: "https://ci.example.com/cb",
		Endpoint: oauth2.Endpoint{AuthURL: h.main.URL + "/dev/oauth/authorize", TokenURL: h.main.URL + "/dev/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
	person := oauthPerson(t, h)
	u, _ := url.Parse(conf.AuthCodeURL("state-of-the-ci-job"))
	resp, page := person.send("GET", u.RequestURI(), nil, "", "")
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("the consent form of the CI job: HTTP %d", resp.StatusCode)
	}
	resp, _ = person.send("POST", u.RequestURI(), nil, "application/x-www-form-urlencoded", url.Values{"csrf_token": {html.UnescapeString(m[1])}, "consent": {"allow"}}.Encode())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	wrong := *conf
	wrong.ClientSecret = "lks_wrong"
	if _, err := wrong.Exchange(context.Background(), code); !isOAuthError(err, "invalid_client") {
		t.Fatalf("a wrong client secret: %v, want invalid_client", err)
	}
	// The failed attempt did not use the code up.
	if _, err := conf.Exchange(context.Background(), code); err != nil {
		t.Fatalf("exchanging with the secret: %v", err)
	}

	// The consent form refuses a post without its CSRF token.
	resp, _ = person.send("POST", u.RequestURI(), nil, "application/x-www-form-urlencoded", "consent=allow")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a consent post without the CSRF token: HTTP %d, want 403", resp.StatusCode)
	}
	// An unknown client or another redirect URI is never redirected to.
	resp, _ = person.send("GET", "/dev/oauth/authorize?"+url.Values{"response_type": {"code"}, "client_id": {created.App.ClientID}, "redirect_uri": {"https://evil.example/cb"}}.Encode(), nil, "", "")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("another redirect URI: HTTP %d to %q, want a 400 page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// isOAuthError reports whether err is the token endpoint's error code.
func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// issueToken authorizes the dashboard (of oauthSetup) as ada through h and
// returns its tokens.
func issueToken(t *testing.T, h *harness, clientID string, scopes ...string) *oauth2.Token {
	t.Helper()
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: "http://127.0.0.1/callback", Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: h.main.URL + "/dev/oauth/authorize", TokenURL: h.main.URL + "/dev/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	person := oauthPerson(t, h)
	authURL := conf.AuthCodeURL("state-of-the-test", oauth2.S256ChallengeOption(verifier))
	u, _ := url.Parse(authURL)
	consent := "allow"
	if resp, _ := person.send("GET", u.RequestURI(), nil, "", ""); resp.StatusCode == http.StatusSeeOther {
		consent = ""
	}
	q := authorize(t, person, authURL, consent)
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	return tok
}

// TestOAuthServerTwoReplicas: a token issued by one replica works on the
// other, and an authorization revoked on one is refused by the other at
// once (bearer tokens are checked against the shared database on every
// request).
func TestOAuthServerTwoReplicas(t *testing.T) {
	dbURL := testPostgres(t)
	key, err := secretbox.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a := startServer(t, serverOptions{databaseURL: dbURL, keys: key.String()})
	b := startServer(t, serverOptions{databaseURL: dbURL, keys: key.String()})
	addAdmin(t, a)
	clientID := oauthSetup(t, a)
	tok := issueToken(t, a, clientID, "read")
	b.expect(http.StatusOK, "GET", "/api/v1/apps", tok.AccessToken, "", "")
	list := decode(t, b.expect(http.StatusOK, "GET", "/api/v1/oauth/authorizations", testAdminKey, "", ""))["authorizations"].([]any)
	id := list[0].(map[string]any)["id"].(string)
	b.expect(http.StatusNoContent, "DELETE", "/api/v1/oauth/authorizations/"+id, testAdminKey, "", "")
	a.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", tok.AccessToken, "", "")
}

// TestOAuthServerRevokeIntrospectAndIcons: RFC 7009 revocation by the app
// itself, RFC 7662 introspection by a confidential app, groups limited to
// named apps, and the icon upload (decoded, 64×64, served as PNG).
func TestOAuthServerRevokeIntrospectAndIcons(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	clientID := oauthSetup(t, h)

	// Groups limited to an app grant app-scoped rights on that app only.
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/crm", testAdminKey, "application/yaml", "name: crm\n")
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/billing", testAdminKey, "application/yaml", "name: billing\n")
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/groups/readers", testAdminKey, "application/json", `{"permissions":["apps:read"],"apps":["crm"]}`)
	tok := issueToken(t, h, clientID, "read")
	h.expect(http.StatusOK, "GET", "/api/v1/apps/crm", tok.AccessToken, "", "")
	h.expect(http.StatusForbidden, "GET", "/api/v1/apps/billing", tok.AccessToken, "", "")
	h.expect(http.StatusForbidden, "GET", "/api/v1/apps", tok.AccessToken, "", "") // names no app: not granted by an app-limited group

	// A confidential app introspects the token.
	b := h.expect(http.StatusCreated, "POST", "/api/v1/oauth/apps", testAdminKey, "application/json",
		`{"name":"gateway","label":"API gateway","redirect_uri":"https://gw.example.com/cb","scopes":["read"]}`)
	var gw struct {
		App struct {
			ClientID string `json:"client_id"`
		} `json:"app"`
		Secret string `json:"client_secret"`
	}
	_ = json.Unmarshal(b, &gw)
	introspect := func(token string) map[string]any {
		req, _ := http.NewRequest("POST", h.main.URL+"/dev/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(gw.App.ClientID), url.QueryEscape(gw.Secret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("introspection: HTTP %d %v", resp.StatusCode, err)
		}
		return m
	}
	if m := introspect(tok.AccessToken); m["active"] != true || m["client_id"] != clientID || m["sub"] != testAdminEmail || m["scope"] != "read" {
		t.Fatalf("introspecting a live token: %v", m)
	}

	// The app revokes its refresh token: the whole grant goes.
	resp, body := h.do("POST", "/dev/oauth/revoke", "", "application/x-www-form-urlencoded",
		url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}}.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoking: HTTP %d %s", resp.StatusCode, body)
	}
	if m := introspect(tok.AccessToken); m["active"] != false {
		t.Fatalf("introspecting after the revocation: %v, want inactive", m)
	}
	h.expect(http.StatusUnauthorized, "GET", "/api/v1/apps/crm", tok.AccessToken, "", "")

	// Icons: the default one, then an upload checked by decoding it.
	resp, body = h.do("GET", "/dev/oauth/apps/"+clientID+"/icon", "", "", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("the default icon: HTTP %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	icon := func(size int) string {
		var buf bytes.Buffer
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		img.Set(1, 1, color.RGBA{R: 200, A: 255})
		_ = png.Encode(&buf, img)
		return buf.String()
	}
	resp, body = h.do("PUT", "/api/v1/oauth/apps/dashboard/icon", testAdminKey, "image/png", icon(128))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "64×64") {
		t.Fatalf("a 128 px icon: HTTP %d %s, want 422 naming 64×64", resp.StatusCode, body)
	}
	resp, body = h.do("PUT", "/api/v1/oauth/apps/dashboard/icon", testAdminKey, "image/png", "<svg onload=alert(1)>")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("an icon that is not an image: HTTP %d %s, want 422", resp.StatusCode, body)
	}
	h.expect(http.StatusNoContent, "PUT", "/api/v1/oauth/apps/dashboard/icon", testAdminKey, "image/png", icon(64))
	resp, body = h.do("GET", "/dev/oauth/apps/"+clientID+"/icon", "", "", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("the uploaded icon: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if img, err := png.Decode(bytes.NewReader(body)); err != nil || img.Bounds().Dx() != 64 {
		t.Fatalf("the served icon is not the 64 px PNG: %v", err)
	}
	if app := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/oauth/apps/dashboard", testAdminKey, "", "")); app["has_icon"] != true {
		t.Fatalf("the app after an upload: %v", app)
	}
}
