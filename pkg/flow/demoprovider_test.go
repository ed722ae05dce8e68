package flow_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/configs"
	"github.com/latchkey/latchkey/pkg/demoprovider"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consentAt plays a person at the demo provider: it signs in, allows
// access, and returns the redirect to Latchkey's callback.
func consentAt(t *testing.T, base, authURL string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	form := func(html string) url.Values {
		v := url.Values{}
		for _, m := range hiddenRE.FindAllStringSubmatch(html, -1) {
			v.Set(m[1], strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'").Replace(m[2]))
		}
		return v
	}
	_, login := page(c.Get(authURL))
	f := form(login)
	f.Set("username", "alice")
	f.Set("password", demoprovider.DemoPassword)
	resp, _ := page(c.PostForm(base+"/login", f))
	_, consent := page(c.Get(base + resp.Header.Get("Location")))
	if !strings.Contains(consent, "wants access to") {
		t.Fatalf("got no consent page after signing in")
	}
	f = form(consent)
	f.Set("decision", "allow")
	resp, _ = page(c.PostForm(base+"/authorize", f))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("consent: got HTTP %d, want a redirect", resp.StatusCode)
	}
	return loc
}

// TestAgainstARealOAuth2ServerLibrary runs the shipped demo app against the
// demo provider, an authorization server built on go-oauth2/oauth2 rather
// than a fake written for the tests: PKCE, Basic client authentication,
// exchange and refresh with rotation.
func TestAgainstARealOAuth2ServerLibrary(t *testing.T) {
	h, err := demoprovider.New(demoprovider.Config{ClientID: demoprovider.QuickstartClientID, ClientSecret: demoprovider.QuickstartClientSecret,
		RedirectURIs: []string{callbackURL}, RequirePKCE: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	data, err := configs.Apps.ReadFile("apps/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err = latchkey.ExpandVariables(data, func(name string) (string, bool) {
		return srv.URL, name == "LATCHKEY_DEMO_PROVIDER_URL"
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.save(string(data))
	e.install("demo", "acme", map[string]string{})
	key := latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "demo"}

	cb := consentAt(t, srv.URL, e.authorize(key).String())
	res, err := e.callback(cb.Query())
	if err != nil {
		t.Fatalf("Callback: %v", err)
	}
	// The config's verify_api (me) checked the connection and stored the
	// user's id.
	if v := res.Verification; v == nil || !v.OK || res.Connection.Values["account_id"] != "alice" {
		t.Fatalf("verification: got %+v and account_id %q, want ok and alice", v, res.Connection.Values["account_id"])
	}
	me := func(token string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	first := res.Connection.Values["access_token"]
	if code := me(first); code != http.StatusOK {
		t.Fatalf("/api/me with the stored token: got HTTP %d, want 200", code)
	}
	e.clock.Advance(2 * time.Hour)
	conn, err := e.engine.Token(e.ctx, key)
	if err != nil {
		t.Fatalf("Token after expiry: %v", err)
	}
	if conn.Values["access_token"] == first || me(conn.Values["access_token"]) != http.StatusOK {
		t.Fatal("got no fresh working token after the refresh")
	}
	if conn.Values["refresh_token"] == res.Connection.Values["refresh_token"] {
		t.Fatal("got the refresh token not rotated by the server")
	}
}
