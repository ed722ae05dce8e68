package providertest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Slack: Basic client auth, the bot token at the top and the user token
// under authed_user, errors as HTTP 200 {"ok":false}.
func TestSlackExchange(t *testing.T) {
	p := New(t, Options{Style: Slack})
	if !strings.HasSuffix(p.TokenURL(), "/api/oauth.v2.access") {
		t.Fatalf("TokenURL: got %s, want …/api/oauth.v2.access", p.TokenURL())
	}
	c := code(t, p, url.Values{"client_id": {p.ClientID()}, "scope": {"chat:write,commands"},
		"user_scope": {"search:read"}, "redirect_uri": {callback}, "state": {"s"}})
	form := url.Values{"code": {c}, "redirect_uri": {callback}}
	a := postForm(t, p, p.TokenURL(), form, true)
	wantEqual(t, "status", a.status, 200)
	m := a.json(t)
	wantEqual(t, "ok", m["ok"], any(true))
	wantEqual(t, "token_type", m["token_type"], any("bot"))
	wantEqual(t, "scope", m["scope"], any("chat:write,commands"))
	if tok, _ := m["access_token"].(string); !strings.HasPrefix(tok, "xoxb-") {
		t.Errorf("access_token: got %q, want xoxb-…", tok)
	}
	au := m["authed_user"].(map[string]any)
	wantEqual(t, "authed_user.id", au["id"], any("U1"))
	wantEqual(t, "authed_user.token_type", au["token_type"], any("user"))
	user, _ := au["access_token"].(string)
	if !strings.HasPrefix(user, "xoxp-") {
		t.Errorf("authed_user.access_token: got %q, want xoxp-…", user)
	}
	wantEqual(t, "team.id", m["team"].(map[string]any)["id"], any("T1"))
	wantEqual(t, "expires_in without rotation", m["expires_in"], nil)
	wantEqual(t, "user token works", bearerGet(t, p.APIURL(), user).status, 200)

	again := postForm(t, p, p.TokenURL(), form, true)
	wantEqual(t, "reuse status", again.status, 200)
	wantEqual(t, "reuse ok", again.json(t)["ok"], any(false))
	wantEqual(t, "reuse error", again.json(t)["error"], any("invalid_code"))
}

func TestSlackErrorsAreHTTP200(t *testing.T) {
	p := New(t, Options{Style: Slack})
	verifier := oauth2.GenerateVerifier()
	withPKCE := func() string {
		return code(t, p, url.Values{"client_id": {p.ClientID()}, "scope": {"chat:write"}, "redirect_uri": {callback},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
	}
	plain := func() string {
		return code(t, p, url.Values{"client_id": {p.ClientID()}, "scope": {"chat:write"}, "redirect_uri": {callback}})
	}
	for _, tc := range []struct {
		name  string
		form  func() url.Values
		basic bool
		want  string
	}{
		{"wrong secret", func() url.Values {
			return url.Values{"code": {plain()}, "client_id": {p.ClientID()}, "client_secret": {"x"}}
		}, false, "bad_client_secret"},
		{"unknown client", func() url.Values { return url.Values{"code": {plain()}, "client_id": {"x"}} }, false, "invalid_client_id"},
		{"no secret without PKCE", func() url.Values { return url.Values{"code": {plain()}, "client_id": {p.ClientID()}} }, false, "bad_client_secret"},
		{"wrong verifier", func() url.Values {
			return url.Values{"code": {withPKCE()}, "code_verifier": {oauth2.GenerateVerifier()}}
		}, true, "invalid_code_verifier"},
		{"redirect mismatch", func() url.Values { return url.Values{"code": {plain()}, "redirect_uri": {"https://x.test/"}} }, true, "bad_redirect_uri"},
		{"bad grant type", func() url.Values { return url.Values{"grant_type": {"password"}} }, true, "invalid_grant_type"},
		{"refresh without rotation", func() url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"xoxe-1-x"}}
		}, true, "invalid_refresh_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := postForm(t, p, p.TokenURL(), tc.form(), tc.basic)
			wantEqual(t, "status", a.status, 200)
			wantEqual(t, "ok", a.json(t)["ok"], any(false))
			wantEqual(t, "error", a.json(t)["error"], any(tc.want))
		})
	}
	// A PKCE client may leave its secret out.
	a := postForm(t, p, p.TokenURL(), url.Values{"code": {withPKCE()}, "client_id": {p.ClientID()}, "code_verifier": {verifier}}, false)
	wantEqual(t, "public PKCE client ok", a.json(t)["ok"], any(true))
}

// With token rotation, Slack tokens expire and "xoxe-1-" refresh tokens
// rotate.
func TestSlackRotation(t *testing.T) {
	clock := NewClock(t0)
	p := New(t, Options{Style: Slack, RotateRefreshTokens: true, Now: clock.Now})
	c := code(t, p, url.Values{"client_id": {p.ClientID()}, "scope": {"chat:write"}, "redirect_uri": {callback}})
	m := postForm(t, p, p.TokenURL(), url.Values{"code": {c}}, true).json(t)
	wantEqual(t, "expires_in", m["expires_in"], any(float64(43200)))
	rt, _ := m["refresh_token"].(string)
	if !strings.HasPrefix(rt, "xoxe-1-") {
		t.Fatalf("refresh_token: got %q, want xoxe-1-…", rt)
	}
	if at := m["access_token"].(string); !strings.HasPrefix(at, "xoxe.xoxb-1-") {
		t.Errorf("access_token: got %q, want xoxe.xoxb-1-…", at)
	}
	clock.Advance(12 * time.Hour)
	wantEqual(t, "expired token", bearerGet(t, p.APIURL(), m["access_token"].(string)).status, 401)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	r := postForm(t, p, p.RefreshURL(), refresh, true).json(t)
	wantEqual(t, "refresh ok", r["ok"], any(true))
	if r["refresh_token"] == rt {
		t.Errorf("refresh token: got the old one, want a new one")
	}
	wantEqual(t, "old refresh token", postForm(t, p, p.RefreshURL(), refresh, true).json(t)["error"], any("invalid_refresh_token"))

	rev := postForm(t, p, p.RevokeURL(), url.Values{"token": {r["access_token"].(string)}}, false).json(t)
	wantEqual(t, "auth.revoke", rev["revoked"], any(true))
}

// Slice: codes live 60 s, credentials only in the body, refresh tokens
// rotate, the answer is the seed's JSON.
func TestSlice(t *testing.T) {
	clock := NewClock(t0)
	p := New(t, Options{Style: Slice, Now: clock.Now})
	exchange := func(c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback},
			"client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}}
	}

	late := code(t, p, authParams(p))
	clock.Advance(61 * time.Second)
	a := postForm(t, p, p.TokenURL(), exchange(late), false)
	wantEqual(t, "late status", a.status, 400)
	wantEqual(t, "late error", a.json(t)["error"], any("invalid_grant"))

	basicOnly := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {code(t, p, authParams(p))}, "redirect_uri": {callback}}, true)
	wantEqual(t, "Basic-only status", basicOnly.status, 401)

	m := postForm(t, p, p.TokenURL(), exchange(code(t, p, authParams(p))), false).json(t)
	wantEqual(t, "expires_in", m["expires_in"], any(float64(3600)))
	wantEqual(t, "token_type", m["token_type"], any("bearer"))
	rt := m["refresh_token"].(string)
	refresh := func(rt string) answer {
		return postForm(t, p, p.RefreshURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
			"client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}}, false)
	}
	r := refresh(rt)
	wantEqual(t, "refresh status", r.status, 200)
	next := r.json(t)["refresh_token"].(string)
	wantEqual(t, "old refresh token status", refresh(rt).status, 400)

	clock.Advance(14 * 24 * time.Hour)
	wantEqual(t, "refresh token after 14 days", refresh(next).json(t)["error"], any("invalid_grant"))
	wantEqual(t, "RevokeURL", p.RevokeURL(), "")
}

// x/oauth2 with credentials in the body works against Slice.
func TestSliceWithOAuth2Client(t *testing.T) {
	p := New(t, Options{Style: Slice})
	cfg := p.OAuth2Config(callback)
	loc := p.Authorize(t, cfg.AuthCodeURL("s"))
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	wantEqual(t, "/api/me", bearerGet(t, p.APIURL(), tok.AccessToken).status, 200)
}

// Slingr: parameters in the query string of an empty POST, no secret, the
// refresh token sent as code, errors as 400 {"code","message"}, and no
// refresh while the access token is valid.
func TestSlingr(t *testing.T) {
	clock := NewClock(t0)
	p := New(t, Options{Style: Slingr, Now: clock.Now, RedirectURIs: []string{callback}})
	if !strings.HasSuffix(p.TokenURL(), "/dev/runtime/api/oauth/token") {
		t.Fatalf("TokenURL: got %s, want …/dev/runtime/api/oauth/token", p.TokenURL())
	}
	// The link carries response_type and client_id only; the registered
	// callback receives the code.
	loc := p.Authorize(t, p.AuthorizeURL()+"?response_type=code&client_id="+p.ClientID())
	wantEqual(t, "callback", loc.Scheme+"://"+loc.Host+loc.Path, callback)
	c := loc.Query().Get("code")

	inBody := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "code": {c}}, false)
	wantEqual(t, "params in body: status", inBody.status, 400)
	wantEqual(t, "params in body: code", inBody.json(t)["code"], any("badRequest"))

	post := func(q url.Values) answer {
		return send(t, http.MethodPost, p.TokenURL()+"?"+q.Encode(), nil, nil)
	}
	bad := post(url.Values{"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "code": {"nope"}})
	wantEqual(t, "bad code", bad.json(t)["message"], any("Invalid authorization code."))
	wantEqual(t, "bad client", post(url.Values{"grant_type": {"authorization_code"}, "client_id": {"x"}, "code": {c}}).json(t)["message"], any("Invalid client ID."))

	a := post(url.Values{"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "code": {c}})
	wantEqual(t, "status", a.status, 200)
	m := a.json(t)
	wantEqual(t, "expires_in", m["expires_in"], any(float64(28800)))
	wantEqual(t, "scope", m["scope"], any("scope1 scope2 scope3"))
	rt := m["refresh_token"].(string)

	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {p.ClientID()}, "code": {rt}}
	early := post(refresh)
	wantEqual(t, "early status", early.status, 400)
	wantEqual(t, "early message", early.json(t)["message"], any("Token is not yet expired."))

	clock.Advance(8 * time.Hour)
	r := post(refresh)
	wantEqual(t, "refresh status", r.status, 200)
	if r.json(t)["refresh_token"] == rt {
		t.Errorf("refresh token: got the old one, want a new one")
	}
	wantEqual(t, "RefreshCalls", p.RefreshCalls(), int64(2))
	last := p.RequestsTo(EndpointRefresh)[1]
	wantEqual(t, "refresh body", len(last.Body), 0)
	wantEqual(t, "refresh code param", last.Query.Get("code"), rt)

	code2 := p.Authorize(t, p.AuthorizeURL()+"?response_type=code&client_id="+p.ClientID()).Query().Get("code")
	clock.Advance(11 * time.Minute)
	wantEqual(t, "expired code", post(url.Values{"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "code": {code2}}).json(t)["message"], any("Authorization code has expired."))
}

// GitHub: a form-encoded answer unless JSON is accepted, and errors with
// HTTP 200.
func TestGitHub(t *testing.T) {
	p := New(t, Options{Style: GitHub})
	exchange := func(c string) url.Values {
		return url.Values{"code": {c}, "client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}}
	}
	params := url.Values{"client_id": {p.ClientID()}, "redirect_uri": {callback}, "scope": {"repo gist"}}
	a := postForm(t, p, p.TokenURL(), exchange(code(t, p, params)), false)
	wantEqual(t, "content type", strings.Split(a.header.Get("Content-Type"), ";")[0], "application/x-www-form-urlencoded")
	f := a.form(t)
	wantEqual(t, "scope", f.Get("scope"), "repo,gist")
	wantEqual(t, "token_type", f.Get("token_type"), "bearer")
	if !strings.HasPrefix(f.Get("access_token"), "gho_") {
		t.Errorf("access_token: got %q, want gho_…", f.Get("access_token"))
	}
	wantEqual(t, "expires_in", f.Get("expires_in"), "")

	bad := postForm(t, p, p.TokenURL(), exchange("nope"), false)
	wantEqual(t, "error status", bad.status, 200)
	wantEqual(t, "error", bad.form(t).Get("error"), "bad_verification_code")

	req := exchange(code(t, p, params))
	j := send(t, http.MethodPost, p.TokenURL(), strings.NewReader(req.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
	wantEqual(t, "JSON token_type", j.json(t)["token_type"], any("bearer"))

	wrong := exchange(code(t, p, params))
	wrong.Set("client_secret", "x")
	wantEqual(t, "wrong secret", postForm(t, p, p.TokenURL(), wrong, false).form(t).Get("error"), "incorrect_client_credentials")

	token := j.json(t)["access_token"].(string)
	rev := send(t, http.MethodDelete, p.RevokeURL(), strings.NewReader(`{"access_token":"`+token+`"}`),
		map[string]string{"Content-Type": "application/json", "Authorization": "Basic " + basic(p)})
	wantEqual(t, "revoke status", rev.status, http.StatusNoContent)
	wantEqual(t, "revoked token", p.ValidAccessToken(token), false)
}

func basic(p *Provider) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(p.ClientID(), p.ClientSecret())
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// GitHub with expiring user tokens: x/oauth2 reads the form-encoded answer
// and refreshes with a rotating ghr_ token.
func TestGitHubExpiringTokensWithOAuth2Client(t *testing.T) {
	p := New(t, Options{Style: GitHub, AccessTTL: 8 * time.Hour})
	cfg := p.OAuth2Config(callback, "repo")
	loc := p.Authorize(t, cfg.AuthCodeURL("s"))
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if !strings.HasPrefix(tok.RefreshToken, "ghr_") {
		t.Fatalf("refresh token: got %q, want ghr_…", tok.RefreshToken)
	}
	if d := time.Until(tok.Expiry); d < 7*time.Hour || d > 8*time.Hour {
		t.Errorf("expiry: got in %v, want in about 8h", d)
	}
	old := *tok
	old.Expiry = time.Now().Add(-time.Second)
	fresh, err := cfg.TokenSource(context.Background(), &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token: got the old one, want a rotated one")
	}
	wantEqual(t, "old refresh token valid", p.ValidRefreshToken(tok.RefreshToken), false)
}
