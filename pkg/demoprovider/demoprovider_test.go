package demoprovider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const callback = "http://127.0.0.1:9/callback"

// browser is a user agent with cookies that does not follow redirects.
type browser struct {
	tb     testing.TB
	client *http.Client
	base   string
}

func newBrowser(tb testing.TB, base string) *browser {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, u string, form url.Values) (int, http.Header, string) {
	b.tb.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formOf returns the hidden fields of a page's form.
func formOf(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func start(tb testing.TB, cfg Config) (*httptest.Server, *oauth2.Config) {
	tb.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = "demo-client", "demo-secret"
	}
	h, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv, &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: callback,
		Scopes:   []string{"profile", "contacts.read"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

// consent signs in as user and answers the consent page with decision; it
// returns where the provider redirects.
func consent(tb testing.TB, b *browser, authURL, user, decision string) *url.URL {
	tb.Helper()
	status, _, page := b.do(http.MethodGet, authURL, nil)
	if status != 200 || !strings.Contains(page, "<code>"+DemoPassword+"</code>") {
		tb.Fatalf("login page: got HTTP %d without the demo password shown, want 200 showing it", status)
	}
	form := formOf(page)
	form.Set("username", user)
	form.Set("password", DemoPassword)
	status, h, _ := b.do(http.MethodPost, "/login", form)
	if status != http.StatusSeeOther {
		tb.Fatalf("login: got HTTP %d, want 303", status)
	}
	status, _, page = b.do(http.MethodGet, h.Get("Location"), nil)
	if status != 200 || !strings.Contains(page, "wants access to") || !strings.Contains(page, "contacts.read") {
		tb.Fatalf("consent page: got HTTP %d %q, want the client's scopes", status, page)
	}
	form = formOf(page)
	form.Set("decision", decision)
	status, h, _ = b.do(http.MethodPost, "/authorize", form)
	if status != http.StatusFound {
		tb.Fatalf("consent: got HTTP %d, want 302", status)
	}
	loc, err := url.Parse(h.Get("Location"))
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// An x/oauth2 client runs the whole flow against the library-built server:
// login, consent, PKCE S256 exchange, the protected resource, and a refresh
// that rotates the refresh token and retires the old access token.
func TestFullFlowWithOAuth2Client(t *testing.T) {
	srv, cfg := start(t, Config{RequirePKCE: true})
	b := newBrowser(t, srv.URL)
	verifier := oauth2.GenerateVerifier()
	loc := consent(t, b, cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)), "alice", "allow")
	if got := loc.Query().Get("state"); got != "xyz" {
		t.Errorf("state: got %q, want xyz", got)
	}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token: got refresh %t, expiry %v; want both", tok.RefreshToken != "", tok.Expiry)
	}

	me := func(access string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := me(tok.AccessToken); status != 200 || !strings.Contains(body, `"id":"alice"`) {
		t.Errorf("/api/me: got %d %s, want 200 for alice", status, body)
	}

	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Errorf("refresh: got the same tokens, want new ones")
	}
	if status, _ := me(fresh.AccessToken); status != 200 {
		t.Errorf("/api/me with the new token: got %d, want 200", status)
	}
	if status, _ := me(tok.AccessToken); status != 401 {
		t.Errorf("/api/me with the old token: got %d, want 401", status)
	}
	_, err = cfg.TokenSource(ctx, &old).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh with the rotated-out token: got %v, want invalid_grant", err)
	}

	// A code is used once (RFC 6749 §4.1.2).
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Errorf("second exchange of a code: got a token, want an error")
	}
}

func TestDenyRedirectsAccessDenied(t *testing.T) {
	srv, cfg := start(t, Config{})
	loc := consent(t, newBrowser(t, srv.URL), cfg.AuthCodeURL("s1"), "bob", "deny")
	if got := loc.Query().Get("error"); got != "access_denied" {
		t.Errorf("error: got %q, want access_denied", got)
	}
	if got := loc.Query().Get("state"); got != "s1" {
		t.Errorf("state: got %q, want s1", got)
	}
}

func TestWrongVerifierFailsExchange(t *testing.T) {
	srv, cfg := start(t, Config{})
	loc := consent(t, newBrowser(t, srv.URL), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "carol", "allow")
	_, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if err == nil {
		t.Fatalf("exchange with a wrong verifier: got a token, want an error")
	}
}

func TestRefusals(t *testing.T) {
	srv, cfg := start(t, Config{})
	b := newBrowser(t, srv.URL)
	for name, u := range map[string]string{
		"unknown client":       strings.Replace(cfg.AuthCodeURL("s"), "client_id=demo-client", "client_id=other", 1),
		"non-loopback":         strings.Replace(cfg.AuthCodeURL("s"), url.QueryEscape(callback), url.QueryEscape("http://evil.example/cb"), 1),
		"https not registered": strings.Replace(cfg.AuthCodeURL("s"), url.QueryEscape(callback), url.QueryEscape("https://127.0.0.1/cb"), 1),
	} {
		if status, _, _ := b.do(http.MethodGet, u, nil); status != http.StatusBadRequest {
			t.Errorf("%s: got HTTP %d, want 400 without a redirect", name, status)
		}
	}

	_, _, page := b.do(http.MethodGet, cfg.AuthCodeURL("s"), nil)
	form := formOf(page)
	form.Set("username", "dave")
	form.Set("password", "wrong")
	if status, _, _ := b.do(http.MethodPost, "/login", form); status != http.StatusUnauthorized {
		t.Errorf("wrong password: got HTTP %d, want 401", status)
	}

	form = formOf(page)
	form.Set("decision", "allow")
	form.Set("csrf", "forged")
	if status, _, _ := b.do(http.MethodPost, "/authorize", form); status != http.StatusForbidden {
		t.Errorf("consent without a session: got HTTP %d, want 403", status)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("/api/me without a token: got %d %q, want 401 with a Bearer challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestRegisteredRedirectURIsOnly(t *testing.T) {
	srv, cfg := start(t, Config{ClientID: "c", ClientSecret: "s", RedirectURIs: []string{"https://app.example/cb"}})
	b := newBrowser(t, srv.URL)
	if status, _, _ := b.do(http.MethodGet, cfg.AuthCodeURL("s"), nil); status != http.StatusBadRequest {
		t.Errorf("unregistered loopback redirect: got HTTP %d, want 400", status)
	}
	cfg.RedirectURL = "https://app.example/cb"
	if status, _, _ := b.do(http.MethodGet, cfg.AuthCodeURL("s"), nil); status != http.StatusOK {
		t.Errorf("registered redirect: got HTTP %d, want 200", status)
	}
}

func TestPagesLoadNothingFromElsewhere(t *testing.T) {
	srv, cfg := start(t, Config{})
	b := newBrowser(t, srv.URL)
	for _, u := range []string{"/", cfg.AuthCodeURL("s")} {
		_, h, page := b.do(http.MethodGet, u, nil)
		for _, bad := range []string{"<link", "<script", "src=", "@import", "url("} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: page contains %q, want only inline CSS", u, bad)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: Content-Security-Policy: got %q, want default-src 'none'", u, h.Get("Content-Security-Policy"))
		}
	}
}

func TestNewNeedsCredentials(t *testing.T) {
	if _, err := New(Config{ClientID: "x"}); err == nil {
		t.Errorf("New without a secret: got no error, want one")
	}
}
