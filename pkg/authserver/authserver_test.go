package authserver_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/authserver"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// fixture is an authorization server on a SQLite store with dev's OAuth
// on and the public OAuth app "cli" authorized by ada.
type fixture struct {
	srv  *authserver.Server
	st   store.Store
	db   *sqlstore.Store
	ctx  context.Context
	auth latchkey.OAuthAuthorization
}

func newFixture(t *testing.T, opts authserver.Options) fixture {
	t.Helper()
	dir := t.TempDir()
	keys, err := secretbox.LoadOrCreateKeyFile(filepath.Join(dir, "encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := secretbox.NewKeyring(keys...)
	root, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: "sqlite://" + filepath.Join(dir, "latchkey.db"), Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	ctx := latchkey.WithEnvironment(context.Background(), latchkey.EnvDev)
	st := root.In(latchkey.EnvDev)
	if _, err := st.PutOAuthServer(ctx, latchkey.OAuthServer{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutOAuthGroup(ctx, latchkey.OAuthGroup{Name: "all", Permissions: []latchkey.Permission{latchkey.PermAppsRead}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutOAuthScope(ctx, latchkey.OAuthScope{Name: "read", Description: "Read", Groups: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOAuthClient(ctx, latchkey.OAuthClient{Name: "cli", ClientID: "lkc_cli", Label: "CLI", RedirectURI: "http://127.0.0.1/cb", Scopes: []string{"read"}, Public: true}); err != nil {
		t.Fatal(err)
	}
	a, err := st.GrantOAuthAuthorization(ctx, "lkc_cli", "ada@example.com", []string{"read"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := authserver.New(root, []byte(strings.Repeat("k", 32)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{srv: srv, st: root, db: root, ctx: ctx, auth: a}
}

// code runs the authorization request of the CLI and returns its code.
func (f fixture) code(t *testing.T, verifier string) string {
	t.Helper()
	conf := oauth2.Config{ClientID: "lkc_cli", RedirectURL: "http://127.0.0.1/cb", Scopes: []string{"read"}, Endpoint: oauth2.Endpoint{AuthURL: "http://latchkey.test/dev/oauth/authorize"}}
	r := httptest.NewRequest("GET", conf.AuthCodeURL("state-of-the-test", oauth2.S256ChallengeOption(verifier)), nil).WithContext(f.ctx)
	ar, err := f.srv.Provider.NewAuthorizeRequest(f.ctx, r)
	if err != nil {
		t.Fatalf("NewAuthorizeRequest: %v", err)
	}
	ar.GrantScope("read")
	resp, err := f.srv.Provider.NewAuthorizeResponse(f.ctx, ar, authserver.NewSession("ada@example.com", f.auth.ID, latchkey.EnvDev))
	if err != nil {
		t.Fatalf("NewAuthorizeResponse: %v", err)
	}
	return resp.GetCode()
}

// exchange sends the token request for code and returns fosite's answer
// as the token endpoint says it.
func (f fixture) exchange(code, verifier string) (string, *authserver.TokenError) {
	access, _, te := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1/cb"}})
	return access, te
}

// token sends a token request of the CLI with form and returns the access
// and refresh tokens, or the error as the token endpoint says it.
func (f fixture) token(form url.Values) (access, refresh string, te *authserver.TokenError) {
	form.Set("client_id", "lkc_cli")
	grant := form.Get("grant_type")
	r := httptest.NewRequest("POST", "http://latchkey.test/dev/oauth/token", strings.NewReader(form.Encode())).WithContext(f.ctx)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ar, err := f.srv.Provider.NewAccessRequest(f.ctx, r, authserver.NewSession("", "", latchkey.EnvDev))
	if err != nil {
		return "", "", authserver.TokenErrorOf(err, grant, false)
	}
	resp, err := f.srv.Provider.NewAccessResponse(f.ctx, ar)
	if err != nil {
		return "", "", authserver.TokenErrorOf(err, grant, false)
	}
	refresh, _ = resp.GetExtra("refresh_token").(string)
	return resp.GetAccessToken(), refresh, nil
}

// TestCodeExpires: a code outlives its lifetime (60 s in production) only
// to be refused in the seed's words.
func TestCodeExpires(t *testing.T) {
	f := newFixture(t, authserver.Options{CodeTTL: time.Second})
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, verifier)
	time.Sleep(1100 * time.Millisecond)
	if _, te := f.exchange(code, verifier); te == nil || te.Description != authserver.ErrCodeExpired.Description {
		t.Fatalf("an expired code: got %v, want %q", te, authserver.ErrCodeExpired.Description)
	}
}

// TestPKCEVerifierChecked: a code is not exchanged without the verifier of
// its challenge (and is then dead); a new code with the right one works and
// its token introspects to its grant, until the authorization is revoked.
func TestPKCEVerifierChecked(t *testing.T) {
	f := newFixture(t, authserver.Options{})
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, verifier)
	if _, te := f.exchange(code, oauth2.GenerateVerifier()); te == nil || te.Code != "invalid_grant" {
		t.Fatalf("another verifier: got %v, want invalid_grant", te)
	}
	if _, te := f.exchange(code, verifier); te == nil {
		t.Fatal("a code whose exchange failed PKCE was exchanged afterwards")
	}
	code = f.code(t, verifier)
	token, te := f.exchange(code, verifier)
	if te != nil || !authserver.IsAccessToken(token) {
		t.Fatalf("the right verifier: %q %v", token, te)
	}
	g, err := f.srv.Introspect(context.Background(), token)
	if err != nil || g.Env != latchkey.EnvDev || g.Subject != "ada@example.com" || g.AuthorizationID != f.auth.ID || len(g.Scopes) != 1 {
		t.Fatalf("Introspect: %+v %v", g, err)
	}
	if _, err := f.srv.Introspect(context.Background(), token+"x"); err != authserver.ErrInvalidToken {
		t.Fatalf("a forged token: %v, want ErrInvalidToken", err)
	}
	if err := f.st.In(latchkey.EnvDev).RevokeOAuthAuthorization(f.ctx, f.auth.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Introspect(context.Background(), token); err != authserver.ErrInvalidToken {
		t.Fatalf("after the revocation: %v, want ErrInvalidToken", err)
	}
}

// TestAFailedRotationKeepsTheRefreshToken: the database refuses to store
// the new access token in the middle of a refresh. The client's refresh
// token must survive: used up with no successor, it would be lost, and the
// next try taken for a replay that revokes the whole grant.
func TestAFailedRotationKeepsTheRefreshToken(t *testing.T) {
	f := newFixture(t, authserver.Options{})
	verifier := oauth2.GenerateVerifier()
	code := f.code(t, verifier)
	_, refresh, te := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1/cb"}})
	if te != nil || refresh == "" {
		t.Fatalf("the code exchange: refresh token %q, %v", refresh, te)
	}
	db := f.db.DB()
	if err := db.Exec(`CREATE TRIGGER refuse_access BEFORE INSERT ON oauth_tokens WHEN NEW.kind = 'access'
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`).Error; err != nil {
		t.Fatal(err)
	}
	again := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	if _, _, te := f.token(again); te == nil || te.Code != "server_error" {
		t.Fatalf("a refresh the database refuses: got %v, want server_error", te)
	}
	if err := db.Exec(`DROP TRIGGER refuse_access`).Error; err != nil {
		t.Fatal(err)
	}
	access, next, te := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if te != nil || next == "" || next == refresh {
		t.Fatalf("the same refresh token once the database works: got %q, %v; want a new refresh token", next, te)
	}
	if g, err := f.srv.Introspect(context.Background(), access); err != nil || g.AuthorizationID != f.auth.ID {
		t.Fatalf("the refreshed access token: %+v %v", g, err)
	}
}
