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

// A client written against RFC 6749 (golang.org/x/oauth2) runs the whole
// flow: PKCE S256, code exchange with Basic auth, the protected resource,
// expiry on the provider's clock, and a refresh that keeps the refresh token.
func TestGenericFullFlowWithOAuth2Client(t *testing.T) {
	clock := NewClock(t0)
	p := New(t, Options{Now: clock.Now, RequirePKCE: true})
	cfg := p.OAuth2Config(callback, "read", "write")
	verifier := oauth2.GenerateVerifier()

	loc := p.Authorize(t, cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
	wantEqual(t, "state", loc.Query().Get("state"), "state-1")
	wantEqual(t, "callback", loc.Scheme+"://"+loc.Host+loc.Path, callback)

	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("refresh token: got none, want one")
	}
	wantEqual(t, "scope", tok.Extra("scope"), any("read write"))

	me := bearerGet(t, p.APIURL(), tok.AccessToken)
	wantEqual(t, "/api/me status", me.status, http.StatusOK)
	wantEqual(t, "/api/me id", me.json(t)["id"], any(DefaultUser))

	reqs := p.RequestsTo(EndpointToken)
	if len(reqs) != 1 {
		t.Fatalf("token requests: got %d, want 1", len(reqs))
	}
	if _, _, ok := (&http.Request{Header: reqs[0].Header}).BasicAuth(); !ok {
		t.Errorf("token request: got no Basic credentials, want them")
	}
	wantEqual(t, "client_secret in the body", reqs[0].Form.Get("client_secret"), "")
	wantEqual(t, "code_verifier", reqs[0].Form.Get("code_verifier"), verifier)

	clock.Advance(time.Hour)
	wantEqual(t, "/api/me status after expiry", bearerGet(t, p.APIURL(), tok.AccessToken).status, http.StatusUnauthorized)

	old := *tok
	old.Expiry = time.Now().Add(-time.Minute) // make x/oauth2 refresh
	fresh, err := cfg.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	wantEqual(t, "refresh token after refresh", fresh.RefreshToken, tok.RefreshToken)
	wantEqual(t, "/api/me status after refresh", bearerGet(t, p.APIURL(), fresh.AccessToken).status, http.StatusOK)
	wantEqual(t, "RefreshCalls", p.RefreshCalls(), int64(1))
	wantEqual(t, "TokenCalls", p.TokenCalls(), int64(1))
	if got := p.RequestsTo(EndpointRefresh)[0].Form.Get("refresh_token"); got != tok.RefreshToken {
		t.Errorf("refresh request's refresh_token: got %q, want the issued one", got)
	}
}

// The token endpoint refuses what RFC 6749 says it must refuse, with the
// §5.2 error codes.
func TestGenericTokenErrors(t *testing.T) {
	clock := NewClock(t0)
	p := New(t, Options{Now: clock.Now})
	verifier := oauth2.GenerateVerifier()
	exchange := func(code string, extra ...string) url.Values {
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	newCode := func() string {
		return code(t, p, authParams(p, "code_challenge", oauth2.S256ChallengeFromVerifier(verifier), "code_challenge_method", "S256"))
	}

	for _, tc := range []struct {
		name       string
		form       func() url.Values
		basic      bool
		wantStatus int
		wantError  string
	}{
		{"unknown code", func() url.Values { return exchange("nope") }, true, 400, "invalid_grant"},
		{"wrong verifier", func() url.Values { return exchange(newCode(), "code_verifier", oauth2.GenerateVerifier()) }, true, 400, "invalid_grant"},
		{"no verifier", func() url.Values { return exchange(newCode(), "code_verifier", "") }, true, 400, "invalid_grant"},
		{"redirect mismatch", func() url.Values { return exchange(newCode(), "redirect_uri", "https://evil.test/cb") }, true, 400, "invalid_grant"},
		{"no client auth", func() url.Values { return exchange(newCode()) }, false, 401, "invalid_client"},
		{"wrong secret", func() url.Values {
			return exchange(newCode(), "client_id", p.ClientID(), "client_secret", "wrong")
		}, false, 401, "invalid_client"},
		{"two auth methods", func() url.Values {
			return exchange(newCode(), "client_id", p.ClientID(), "client_secret", p.ClientSecret())
		}, true, 400, "invalid_request"},
		{"unsupported grant", func() url.Values { return url.Values{"grant_type": {"password"}} }, true, 400, "unsupported_grant_type"},
		{"expired code", func() url.Values {
			c := newCode()
			clock.Advance(10 * time.Minute)
			return exchange(c)
		}, true, 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := postForm(t, p, p.TokenURL(), tc.form(), tc.basic)
			wantEqual(t, "status", a.status, tc.wantStatus)
			wantEqual(t, "error", a.json(t)["error"], any(tc.wantError))
			if tc.wantStatus == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate: got %q, want a Basic challenge", a.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// A code used twice fails the second time and revokes the tokens it gave
// (RFC 6749 §4.1.2).
func TestGenericCodeReuseRevokesTokens(t *testing.T) {
	p := New(t, Options{})
	c := code(t, p, authParams(p))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}
	first := postForm(t, p, p.TokenURL(), form, true)
	wantEqual(t, "first status", first.status, 200)
	access := first.json(t)["access_token"].(string)
	refresh := first.json(t)["refresh_token"].(string)

	second := postForm(t, p, p.TokenURL(), form, true)
	wantEqual(t, "second status", second.status, 400)
	wantEqual(t, "second error", second.json(t)["error"], any("invalid_grant"))
	wantEqual(t, "access token valid", p.ValidAccessToken(access), false)
	wantEqual(t, "refresh token valid", p.ValidRefreshToken(refresh), false)
}

// expires_in can be missing or a string, as some providers send it.
func TestGenericExpiresInShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want any
	}{
		{"number", Options{AccessTTL: 90 * time.Second}, float64(90)},
		{"string", Options{ExpiresInAsString: true}, "3600"},
		{"absent", Options{NoExpiresIn: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(t, tc.opts)
			c := code(t, p, authParams(p))
			a := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}, true)
			wantEqual(t, "expires_in", a.json(t)["expires_in"], tc.want)
		})
	}
}

// With rotation, a refresh returns a new refresh token and the old one dies.
func TestGenericRotation(t *testing.T) {
	p := New(t, Options{RotateRefreshTokens: true})
	c := code(t, p, authParams(p))
	first := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}, true).json(t)
	rt := first["refresh_token"].(string)
	refresh := func(rt string) answer {
		return postForm(t, p, p.RefreshURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	}
	a := refresh(rt)
	wantEqual(t, "refresh status", a.status, 200)
	next, _ := a.json(t)["refresh_token"].(string)
	if next == "" || next == rt {
		t.Fatalf("new refresh token: got %q, want a new one", next)
	}
	again := refresh(rt)
	wantEqual(t, "reused refresh status", again.status, 400)
	wantEqual(t, "reused refresh error", again.json(t)["error"], any("invalid_grant"))
	wantEqual(t, "rotated refresh status", refresh(next).status, 200)
	wantEqual(t, "RefreshCalls", p.RefreshCalls(), int64(3))
}

// A per-tenant provider binds codes and tokens to the tenant in the path.
func TestGenericSubdomainBindsTenant(t *testing.T) {
	p := New(t, Options{Subdomain: true})
	if !strings.HasSuffix(p.TokenURL(), "/t/acme/oauth/token") {
		t.Fatalf("TokenURL: got %s, want it under /t/acme", p.TokenURL())
	}
	c := code(t, p, authParams(p))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}
	other := postForm(t, p, p.URL+"/t/other/oauth/token", form, true)
	wantEqual(t, "other tenant status", other.status, 400)
	a := postForm(t, p, p.TokenURL(), form, true)
	wantEqual(t, "own tenant status", a.status, 200)
	token := a.json(t)["access_token"].(string)
	wantEqual(t, "/api/me at own tenant", bearerGet(t, p.APIURL(), token).status, 200)
	wantEqual(t, "/api/me at other tenant", bearerGet(t, p.URL+"/t/other/api/me", token).status, 401)
	wantEqual(t, "recorded tenant", p.RequestsTo(EndpointToken)[1].Tenant, "acme")
}

// The client credentials grant (RFC 6749 §4.4) gives an access token and no
// refresh token.
func TestGenericClientCredentials(t *testing.T) {
	p := New(t, Options{})
	a := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, true)
	wantEqual(t, "status", a.status, 200)
	m := a.json(t)
	wantEqual(t, "refresh_token", m["refresh_token"], nil)
	wantEqual(t, "/api/me", bearerGet(t, p.APIURL(), m["access_token"].(string)).status, 200)
}

// The authorize endpoint denies on demand, refuses bad clients without
// redirecting, and enforces PKCE when asked.
func TestAuthorizeErrors(t *testing.T) {
	p := New(t, Options{RequirePKCE: true, RedirectURIs: []string{callback}})
	withPKCE := authParams(p, "code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()), "code_challenge_method", "S256")

	p.DenyNext()
	loc := p.Authorize(t, p.AuthorizeURL()+"?"+withPKCE.Encode())
	wantEqual(t, "denied error", loc.Query().Get("error"), "access_denied")
	wantEqual(t, "denied state", loc.Query().Get("state"), "st")
	if loc.Query().Get("error_description") == "" {
		t.Errorf("error_description: got none, want one")
	}
	wantEqual(t, "code after deny", loc.Query().Get("code"), "")
	if c := p.Authorize(t, p.AuthorizeURL()+"?"+withPKCE.Encode()).Query().Get("code"); c == "" {
		t.Errorf("the request after a denial: got no code, want one")
	}

	loc = p.Authorize(t, p.AuthorizeURL()+"?"+authParams(p).Encode())
	wantEqual(t, "without PKCE", loc.Query().Get("error"), "invalid_request")
	loc = p.Authorize(t, p.AuthorizeURL()+"?"+authParams(p, "response_type", "token", "code_challenge", "x").Encode())
	wantEqual(t, "response_type=token", loc.Query().Get("error"), "unsupported_response_type")

	for name, params := range map[string]url.Values{
		"unknown client":      authParams(p, "client_id", "other"),
		"unregistered uri":    authParams(p, "redirect_uri", "https://evil.test/cb"),
		"missing redirect":    authParams(p, "redirect_uri", ""),
		"relative redirect":   authParams(p, "redirect_uri", "/cb"),
		"redirect w/fragment": authParams(p, "redirect_uri", callback+"#x"),
	} {
		a := send(t, http.MethodGet, p.AuthorizeURL()+"?"+params.Encode(), nil, nil)
		wantEqual(t, name+": status", a.status, http.StatusBadRequest)
	}
}

// Revocation (RFC 7009) kills the refresh token and its access token and
// answers 200 even for an unknown token.
func TestGenericRevoke(t *testing.T) {
	p := New(t, Options{})
	c := code(t, p, authParams(p))
	m := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}, true).json(t)
	a := postForm(t, p, p.RevokeURL(), url.Values{"token": {m["refresh_token"].(string)}}, true)
	wantEqual(t, "revoke status", a.status, 200)
	wantEqual(t, "access valid", p.ValidAccessToken(m["access_token"].(string)), false)
	wantEqual(t, "unknown token status", postForm(t, p, p.RevokeURL(), url.Values{"token": {"nope"}}, true).status, 200)
	wantEqual(t, "revoke requests", len(p.RequestsTo(EndpointRevoke)), 2)
}

// RevokeAll plays the user removing the app at the provider.
func TestRevokeAllFailsRefresh(t *testing.T) {
	p := New(t, Options{})
	c := code(t, p, authParams(p))
	m := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}, true).json(t)
	p.RevokeAll()
	a := postForm(t, p, p.RefreshURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}, true)
	wantEqual(t, "status", a.status, 400)
	wantEqual(t, "error", a.json(t)["error"], any("invalid_grant"))
}
