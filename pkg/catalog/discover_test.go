package catalog_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// startOIDCProvider runs panva's oidc-provider (testdata/oidc) on a free
// port and returns its issuer. It skips without node or the installed
// package, except under CI=true, where it fails.
func startOIDCProvider(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; .ci/run installs it", what)
		}
		t.Skipf("%s (run npm ci in pkg/catalog/testdata/oidc)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	dir := filepath.Join("testdata", "oidc")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		missing("oidc-provider is not installed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "server.mjs")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server exits when its input ends
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case issuer, ok := <-line:
		if !ok || !strings.HasPrefix(issuer, "http://127.0.0.1:") {
			t.Fatalf("oidc-provider: got %q on its first line, want its issuer", issuer)
		}
		return issuer
	case <-time.After(20 * time.Second):
		t.Fatal("oidc-provider did not start in 20 s")
	}
	return ""
}

// Discovery against a real OpenID Provider: the document has its endpoints,
// Basic client authentication (client_secret_basic is listed), PKCE (S256
// is listed), revocation, offline_access, the userinfo call, and a client
// credentials config that gets a token from it through the engine.
func TestDiscoverRealOpenIDProvider(t *testing.T) {
	issuer := startOIDCProvider(t)
	md, err := catalog.Discover(context.Background(), http.DefaultClient, issuer)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	app, err := md.Document("")
	if err != nil {
		t.Fatalf("Document: %v", err)
	}
	if app.Name != "127-0-0-1" {
		t.Errorf("name: got %q, want one made of the issuer's host", app.Name)
	}
	c, ok := app.OAuthConfig("oidc")
	if !ok {
		t.Fatal("no oidc config")
	}
	for field, got := range map[string]string{"link_url": c.LinkURL, "token_url": c.TokenURL, "revocation_url": c.RevocationURL} {
		if !strings.HasPrefix(got, issuer+"/") {
			t.Errorf("%s: got %q, want an endpoint of %s", field, got, issuer)
		}
	}
	if c.Auth() != latchkey.ClientAuthBasic || !c.PKCEEnabled() {
		t.Errorf("got client_auth %s and PKCE %v, want basic and on", c.Auth(), c.PKCEEnabled())
	}
	if strings.Join(c.Scopes, " ") != "openid profile email offline_access" {
		t.Errorf("scopes: got %v, want openid profile email offline_access", c.Scopes)
	}
	if c.APIBaseURL != issuer || c.VerifyAPI != "userinfo" {
		t.Errorf("got api_base_url %q and verify_api %q, want the userinfo endpoint's", c.APIBaseURL, c.VerifyAPI)
	}

	// The client credentials config gets a real token from the provider.
	h := newHarness(t)
	saved, err := h.engine.SaveApp(h.ctx, app)
	if err != nil {
		t.Fatalf("SaveApp: %v", err)
	}
	if _, err := h.store.PutInstallation(h.ctx, latchkey.Installation{App: saved.Name, Org: "acme",
		Values: map[string]string{"client_id": "latchkey", "client_secret": "latchkey-secret"}}); err != nil {
		t.Fatal(err)
	}
	conn, err := h.engine.Token(h.ctx, latchkey.ConnectionKey{App: saved.Name, Org: "acme", Config: "client-credentials"})
	if err != nil {
		t.Fatalf("client credentials against the real provider: %v", err)
	}
	if conn.Values["client_credentials_token"] == "" || conn.ExpiresAt.IsZero() {
		t.Fatalf("got no token or no expiry from the real provider")
	}
}

// An issuer without OpenID metadata is read from its RFC 8414 metadata;
// metadata that names another issuer is refused (RFC 8414 §3.3).
func TestDiscoverRFC8414AndIssuerMismatch(t *testing.T) {
	var issuer string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/tenant", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer": "` + issuer + `", "authorization_endpoint": "` + issuer + `/authorize",
			"token_endpoint": "` + issuer + `/token", "token_endpoint_auth_methods_supported": ["client_secret_post"],
			"code_challenge_methods_supported": ["plain"], "grant_types_supported": ["authorization_code", "refresh_token"]}`))
	})
	mux.HandleFunc("GET /other/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer": "https://evil.example", "authorization_endpoint": "https://evil.example/a", "token_endpoint": "https://evil.example/t"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer = srv.URL + "/tenant"
	md, err := catalog.Discover(context.Background(), srv.Client(), issuer)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	app, err := md.Document("tenant")
	if err != nil {
		t.Fatalf("Document: %v", err)
	}
	c := app.OAuthConfigs[0]
	if c.Auth() != latchkey.ClientAuthBody || c.PKCEEnabled() || len(app.OAuthConfigs) != 1 {
		t.Errorf("got client_auth %s, PKCE %v, %d configs; want body (client_secret_post), off (no S256), one", c.Auth(), c.PKCEEnabled(), len(app.OAuthConfigs))
	}
	if _, err := catalog.Discover(context.Background(), srv.Client(), srv.URL+"/other"); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
		t.Fatalf("mismatched issuer: got %v, want a provider error", err)
	}
	if _, err := catalog.Discover(context.Background(), srv.Client(), srv.URL+"/none"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Fatalf("no metadata: got %v, want not found", err)
	}
}
