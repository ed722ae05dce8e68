package flow_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/configs"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store"
)

var hostRE = regexp.MustCompile(`^https?://[^/]+`)

// catalogEnv saves a document of configs/providers with the scheme and host
// of every flow URL replaced by the fake provider's, and installs it for org
// acme with the fake's client.
func catalogEnv(t *testing.T, file string, opts providertest.Options, install map[string]string) (*env, *providertest.Provider, latchkey.App) {
	t.Helper()
	return catalogEnvAt(t, file, opts, install, nil)
}

// catalogEnvAt is catalogEnv with explicit URL prefixes to replace, for
// documents whose paths differ from the fake's.
func catalogEnvAt(t *testing.T, file string, opts providertest.Options, install map[string]string, prefixes func(p *providertest.Provider) map[string]string) (*env, *providertest.Provider, latchkey.App) {
	t.Helper()
	e := newEnv(t)
	opts.Now = e.clock.Now
	p := providertest.New(t, opts)
	data, err := configs.Providers.ReadFile("providers/" + file)
	if err != nil {
		t.Fatal(err)
	}
	app, err := latchkey.ParseApp(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range app.OAuthConfigs {
		c := &app.OAuthConfigs[i]
		for _, u := range []*string{&c.LinkURL, &c.TokenURL, &c.RefreshTokenURL, &c.RevocationURL} {
			if *u == "" {
				continue
			}
			if prefixes != nil {
				for from, to := range prefixes(p) {
					*u = strings.Replace(*u, from, to, 1)
				}
				continue
			}
			*u = hostRE.ReplaceAllString(*u, p.URL)
		}
	}
	saved, err := e.engine.SaveApp(e.ctx, app)
	if err != nil {
		t.Fatalf("SaveApp(%s): %v", file, err)
	}
	values := map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()}
	for k, v := range install {
		values[k] = v
	}
	for k := range values {
		if _, ok := saved.Setting(k); !ok {
			delete(values, k)
		}
	}
	e.install(saved.Name, "acme", values)
	return e, p, saved
}

func TestCatalogSlackBotTokenWithRotation(t *testing.T) {
	e, p, _ := catalogEnv(t, "slack.yaml", providertest.Options{Style: providertest.Slack, RotateRefreshTokens: true}, nil)
	key := latchkey.ConnectionKey{App: "slack", Org: "acme", User: "u1", Config: "bot"}
	if got := e.authorize(key).Query().Get("scope"); got != "chat:write,channels:read" {
		t.Errorf("got scope %q, want comma-separated", got)
	}
	conn := e.mustConnect(p, key)
	if !strings.HasPrefix(conn.Values["bot_token"], "xoxe.") || conn.Values["bot_refresh_token"] == "" || conn.Values["slack_team_id"] == "" {
		t.Fatalf("got bot token prefix %q, refresh token present %v, team %q", prefix(conn.Values["bot_token"]), conn.Values["bot_refresh_token"] != "", conn.Values["slack_team_id"])
	}
	ex := p.RequestsTo(providertest.EndpointToken)[0]
	id, secret, ok := basicAuth(ex.Header.Get("Authorization"))
	if !ok || id != p.ClientID() || secret != p.ClientSecret() {
		t.Errorf("exchange: got Basic auth %v for %q, want the client's credentials in the header", ok, id)
	}
	if ex.Form.Get("client_secret") != "" || ex.Form.Get("code_verifier") == "" {
		t.Errorf("exchange: got client_secret in the body %v, code_verifier present %v; want no secret and a verifier",
			ex.Form.Get("client_secret") != "", ex.Form.Get("code_verifier") != "")
	}
	// Twelve hours later the rotating token is refreshed, and the old
	// refresh token dies.
	e.clock.Advance(13 * time.Hour)
	fresh, err := e.engine.Token(e.ctx, key)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !p.ValidAccessToken(fresh.Values["bot_token"]) || p.ValidRefreshToken(conn.Values["bot_refresh_token"]) {
		t.Fatal("got a stale token or the old refresh token alive, want rotation")
	}
	if fresh.Values["slack_team_id"] != conn.Values["slack_team_id"] {
		t.Error("the team id captured at the callback was lost in the refresh")
	}
}

func TestCatalogSlackUserTokenUnderAuthedUser(t *testing.T) {
	e, p, _ := catalogEnv(t, "slack.yaml", providertest.Options{Style: providertest.Slack}, nil)
	key := latchkey.ConnectionKey{App: "slack", Org: "acme", User: "u1", Config: "user"}
	conn := e.mustConnect(p, key)
	if !strings.HasPrefix(conn.Values["user_token"], "xoxp-") || !p.ValidAccessToken(conn.Values["user_token"]) {
		t.Fatalf("got user token prefix %q, want a valid xoxp- token", prefix(conn.Values["user_token"]))
	}
}

func TestCatalogSlackErrorsWithHTTP200(t *testing.T) {
	e, p, _ := catalogEnv(t, "slack.yaml", providertest.Options{Style: providertest.Slack}, nil)
	key := latchkey.ConnectionKey{App: "slack", Org: "acme", User: "u1", Config: "bot"}
	p.FailNext(1, providertest.Failure{Kind: providertest.KindStatus, Status: 200, Body: `{"ok":false,"error":"invalid_code"}`})
	_, err := e.connect(p, key)
	if providerCode(err) != "invalid_code" {
		t.Fatalf("got %v, want Slack's invalid_code", err)
	}
	if _, err := e.store.GetConnection(e.ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a connection was stored after a failed exchange")
	}
}

func TestCatalogSliceCodesExpireAndRefreshTokensRotate(t *testing.T) {
	e, p, _ := catalogEnv(t, "slice.yaml", providertest.Options{Style: providertest.Slice}, nil)
	key := latchkey.ConnectionKey{App: "slice", Org: "acme", User: "u1", Config: "slice"}

	// A code used after 60 seconds is refused, as Slice says.
	cb := p.Authorize(t, e.authorize(key).String())
	e.clock.Advance(61 * time.Second)
	if _, err := e.callback(cb.Query()); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
		t.Fatalf("late code: got %v, want the provider's refusal", err)
	}

	// The user denies: the provider's error and description as it wrote them.
	p.DenyNext()
	_, err := e.connect(p, key)
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Provider == nil || le.Provider.Code != "access_denied" || le.Provider.Description != "The user denied access to your application" {
		t.Fatalf("denied: got %v, want access_denied with Slice's description", err)
	}

	first := e.mustConnect(p, key)
	rt := first.Values["refresh_token"]
	for i := 0; i < 2; i++ {
		e.clock.Advance(2 * time.Hour)
		conn, err := e.engine.Token(e.ctx, key)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if conn.Values["refresh_token"] == rt || p.ValidRefreshToken(rt) {
			t.Fatalf("refresh %d: got the refresh token not rotated", i)
		}
		rt = conn.Values["refresh_token"]
	}
}

func TestCatalogSlingrQueryStringAndRefreshAsCode(t *testing.T) {
	e, p, _ := catalogEnv(t, "slingr.yaml", providertest.Options{Style: providertest.Slingr, CodeTTL: time.Minute},
		map[string]string{"app_name": "acme", "env": "dev"})
	key := latchkey.ConnectionKey{App: "slingr", Org: "acme", User: "u1", Config: "slingr"}
	conn := e.mustConnect(p, key)
	ex := p.RequestsTo(providertest.EndpointToken)[0]
	if len(ex.Body) != 0 || ex.Query.Get("grant_type") != "authorization_code" || ex.Query.Get("client_id") != p.ClientID() || ex.Query.Get("code") == "" {
		t.Fatalf("exchange: got body %d bytes and query keys %v, want all parameters in the query", len(ex.Body), keysOf(ex.Query))
	}
	e.clock.Advance(9 * time.Hour)
	fresh, err := e.engine.Token(e.ctx, key)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	rf := p.RequestsTo(providertest.EndpointRefresh)[0]
	if rf.Query.Get("grant_type") != "refresh_token" || rf.Query.Get("code") != conn.Values["refresh_token"] {
		t.Fatal("refresh: the refresh token did not travel as code")
	}
	if !p.ValidAccessToken(fresh.Values["access_token"]) {
		t.Fatal("got an invalid token after the refresh")
	}
	// An expired code: Slingr's message is shown as Slingr wrote it.
	cb := p.Authorize(t, e.authorize(key).String())
	e.clock.Advance(2 * time.Minute)
	_, err = e.callback(cb.Query())
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Provider == nil || le.Provider.Description != "Authorization code has expired." {
		t.Fatalf("got %v, want Slingr's \"Authorization code has expired.\"", err)
	}
}

func TestCatalogGitHubFormAnswersAndErrorsWith200(t *testing.T) {
	for _, asJSON := range []bool{true, false} {
		e, p, app := catalogEnv(t, "github.yaml", providertest.Options{Style: providertest.GitHub, CodeTTL: time.Minute}, nil)
		if !asJSON {
			// Without the Accept header GitHub answers form-encoded.
			app.OAuthConfigs[0].TokenHeaders = nil
			if _, err := e.engine.SaveApp(e.ctx, app); err != nil {
				t.Fatal(err)
			}
		}
		key := latchkey.ConnectionKey{App: "github", Org: "acme", User: "u1", Config: "github"}
		conn := e.mustConnect(p, key)
		if !p.ValidAccessToken(conn.Values["access_token"]) || conn.Scope == "" {
			t.Fatalf("json=%v: got a token the provider refuses or no scope", asJSON)
		}
		cb := p.Authorize(t, e.authorize(key).String())
		e.clock.Advance(2 * time.Minute)
		if _, err := e.callback(cb.Query()); providerCode(err) != "bad_verification_code" {
			t.Fatalf("json=%v: got %v, want bad_verification_code", asJSON, err)
		}
	}
}

func TestCatalogExample002(t *testing.T) {
	e, p, _ := catalogEnvAt(t, "example-002.yaml", providertest.Options{RedirectURIs: []string{"https://auth.capacity.com/v1/dev_oauth/callback"}},
		map[string]string{"redirect_uri": "https://auth.capacity.com/v1/dev_oauth/callback"},
		func(p *providertest.Provider) map[string]string {
			return map[string]string{"https://example.com/": p.BaseURL() + "/oauth/"}
		})
	app, _ := e.store.GetApp(e.ctx, "example-002")
	key := latchkey.ConnectionKey{App: app.Name, Org: "acme", User: "u1", Config: app.OAuthConfigs[0].Name}
	conn := e.mustConnect(p, key)
	if !p.ValidAccessToken(conn.Values[app.OAuthConfigs[0].AccessTokenVariableName]) {
		t.Fatal("got no valid access token")
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.engine.Token(e.ctx, key); err != nil || p.RefreshCalls() != 1 {
		t.Fatalf("refresh: got %v with %d calls, want one refresh", err, p.RefreshCalls())
	}
}

func TestGenericQuirks(t *testing.T) {
	t.Run("a tenant in the URLs", func(t *testing.T) {
		e := newEnv(t)
		p := providertest.New(t, providertest.Options{Subdomain: true, Tenant: "acme", Now: e.clock.Now})
		doc := strings.ReplaceAll(`
name: tenanted
settings:
  - {name: tenant, level: org, required: true}
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
oauth_configs:
  - name: t
    link_url: "BASE/t/{{tenant}}/oauth/authorize?client_id={{client_id}}"
    token_url: "BASE/t/{{tenant}}/oauth/token"
    access_token_variable_name: access_token
`, "BASE", p.URL)
		e.save(doc)
		e.install("tenanted", "acme", map[string]string{"tenant": "acme", "client_id": p.ClientID(), "client_secret": p.ClientSecret()})
		e.mustConnect(p, latchkey.ConnectionKey{App: "tenanted", Org: "acme", User: "u", Config: "t"})
		// A tenant value that tries to add a path segment is escaped into one.
		e.install("tenanted", "evil", map[string]string{"tenant": "acme/../other", "client_id": p.ClientID(), "client_secret": p.ClientSecret()})
		u := e.authorize(latchkey.ConnectionKey{App: "tenanted", Org: "evil", User: "u", Config: "t"})
		if !strings.HasPrefix(u.EscapedPath(), "/t/acme%2F..%2Fother/") {
			t.Fatalf("got path %q, want the tenant escaped into one segment", u.EscapedPath())
		}
	})
	for _, tc := range []struct {
		name string
		opts providertest.Options
		want bool // expiry known
	}{
		{"no expires_in", providertest.Options{NoExpiresIn: true}, false},
		{"expires_in as a string", providertest.Options{ExpiresInAsString: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, p := genericEnv(t, tc.opts)
			conn := e.mustConnect(p, alice)
			if got := !conn.ExpiresAt.IsZero(); got != tc.want {
				t.Fatalf("got expiry known %v, want %v", got, tc.want)
			}
			if tc.want && !conn.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
				t.Fatalf("got expiry %v, want an hour from now", conn.ExpiresAt)
			}
			// A token of unknown expiry is served without refreshing.
			e.clock.Advance(30 * time.Minute)
			if _, err := e.engine.Token(e.ctx, alice); err != nil || p.RefreshCalls() != 0 {
				t.Fatalf("got %v and %d refreshes, want the stored token", err, p.RefreshCalls())
			}
		})
	}
}

func prefix(s string) string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func basicAuth(h string) (id, secret string, ok bool) {
	raw, found := strings.CutPrefix(h, "Basic ")
	if !found {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(b), ":")
	return id, secret, ok
}

func keysOf[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}

// TestMetadataFromTheCallbackQuery stores a value the provider adds to its
// redirect (QuickBooks' realmId) as a setting, usable in later templates.
func TestMetadataFromTheCallbackQuery(t *testing.T) {
	e := newEnv(t)
	p := providertest.New(t, providertest.Options{Now: e.clock.Now})
	e.save(strings.ReplaceAll(`
name: books
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
  - {name: realm_id, level: user}
oauth_configs:
  - name: qb
    link_url: "BASE/oauth/authorize"
    token_url: "BASE/oauth/token"
    access_token_variable_name: access_token
    metadata:
      - {setting: realm_id, from: callback, path: $.realmId}
apis:
  - name: company
    url: "https://quickbooks.example.com/v3/company/{{realm_id}}/companyinfo"
`, "BASE", p.URL))
	e.install("books", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
	key := latchkey.ConnectionKey{App: "books", Org: "acme", User: "u", Config: "qb"}
	cb := p.Authorize(t, e.authorize(key).String())
	q := cb.Query()
	q.Set("realmId", "4620816365")
	res, err := e.callback(q)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Connection.Values["realm_id"]; got != "4620816365" {
		t.Fatalf("got realm_id %q, want the callback's realmId", got)
	}
	v, err := e.engine.Setting(e.ctx, "books", "acme", "u", "realm_id")
	if err != nil || v.Value != "4620816365" || v.Source != flow.SourceUser {
		t.Fatalf("got %+v (%v), want the user's realm_id", v, err)
	}
}

// A rotating Slack user token is nested under authed_user in the exchange
// and at the top level on refresh: refresh_extraction reads the refresh.
func TestCatalogSlackUserTokenRotates(t *testing.T) {
	e, p, _ := catalogEnv(t, "slack.yaml", providertest.Options{Style: providertest.Slack, RotateRefreshTokens: true}, nil)
	key := latchkey.ConnectionKey{App: "slack", Org: "acme", User: "u1", Config: "user"}
	conn := e.mustConnect(p, key)
	if conn.Values["user_refresh_token"] == "" || conn.ExpiresAt.IsZero() {
		t.Fatalf("got refresh token %v and expiry %v, want both from authed_user", conn.Values["user_refresh_token"] != "", conn.ExpiresAt)
	}
	e.clock.Advance(13 * time.Hour)
	fresh, err := e.engine.Token(e.ctx, key)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !p.ValidAccessToken(fresh.Values["user_token"]) || fresh.Values["user_refresh_token"] == conn.Values["user_refresh_token"] {
		t.Fatal("got a dead user token or the old refresh token after the refresh, want the top-level answer read")
	}
}

// GitHub's revocation is DELETE /applications/{client_id}/token with Basic
// authentication and a JSON body, as the document's revocation block says.
func TestCatalogGitHubRevokesWithDelete(t *testing.T) {
	e, p, _ := catalogEnv(t, "github.yaml", providertest.Options{Style: providertest.GitHub, CodeTTL: time.Minute}, nil)
	key := latchkey.ConnectionKey{App: "github", Org: "acme", User: "u1", Config: "github"}
	conn := e.mustConnect(p, key)
	if err := e.engine.Disconnect(e.ctx, key, false); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	rv := p.RequestsTo(providertest.EndpointRevoke)
	if len(rv) != 1 || rv[0].Method != "DELETE" || p.ValidAccessToken(conn.Values["access_token"]) {
		t.Fatalf("got %d revocations, the token alive %v; want one DELETE that kills it", len(rv), p.ValidAccessToken(conn.Values["access_token"]))
	}
}

// default_expires_in gives a token the lifetime the provider documents
// when its answer has none; expires_in_unit reads expires_in in another
// unit.
func TestExpiryDeclaredInTheDocument(t *testing.T) {
	for _, tc := range []struct {
		name, fields string
		opts         providertest.Options
		want         time.Duration
	}{
		{"a known lifetime", "default_expires_in: 2h", providertest.Options{NoExpiresIn: true}, 2 * time.Hour},
		{"expires_in in minutes", "expires_in_unit: minutes", providertest.Options{AccessTTL: 90 * time.Second}, 90 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.opts.Now = e.clock.Now
			p := providertest.New(t, tc.opts)
			e.save(strings.ReplaceAll(strings.ReplaceAll(`
name: lifetimes
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
oauth_configs:
  - name: l
    link_url: "BASE/oauth/authorize"
    token_url: "BASE/oauth/token"
    access_token_variable_name: access_token
    FIELDS
`, "BASE", p.URL), "FIELDS", tc.fields))
			e.install("lifetimes", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
			conn := e.mustConnect(p, latchkey.ConnectionKey{App: "lifetimes", Org: "acme", User: "u", Config: "l"})
			if want := e.clock.Now().Add(tc.want); !conn.ExpiresAt.Equal(want) {
				t.Fatalf("got expiry %v, want %v", conn.ExpiresAt, want)
			}
		})
	}
}
