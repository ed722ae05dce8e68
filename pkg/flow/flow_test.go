package flow_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store"
)

// genericApp is an app for an RFC 6749 provider at base, with org-level
// client credentials and user-level tokens.
func genericApp(base string) string {
	return fmt.Sprintf(`
name: crm
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
  - {name: org_token, level: org, secret: true}
oauth_configs:
  - name: generic
    label: Generic
    link_url: "%[1]s/oauth/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}"
    token_url: "%[1]s/oauth/token"
    revocation_url: "%[1]s/oauth/revoke"
    scopes: [read, write]
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
  - name: machine
    grant_type: client_credentials
    token_url: "%[1]s/oauth/token"
    access_token_variable_name: org_token
  - name: nopkce
    link_url: "%[1]s/oauth/authorize?client_id={{client_id}}"
    token_url: "%[1]s/oauth/token"
    pkce: false
    access_token_variable_name: access_token
`, base)
}

func genericEnv(t *testing.T, opts providertest.Options) (*env, *providertest.Provider) {
	t.Helper()
	e := newEnv(t)
	opts.Now = e.clock.Now
	p := providertest.New(t, opts)
	e.save(genericApp(p.BaseURL()))
	e.install("crm", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
	return e, p
}

var alice = latchkey.ConnectionKey{App: "crm", Org: "acme", User: "alice", Config: "generic"}

func TestAuthorizationCodeFlowStoresTokensAsUserSettings(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{RequirePKCE: true})
	authURL := e.authorize(alice)
	q := authURL.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": p.ClientID(), "redirect_uri": callbackURL,
		"scope": "read write", "code_challenge_method": "S256"} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize URL: got %s=%q, want %q", k, got, want)
		}
	}
	cb := p.Authorize(t, authURL.String())
	res, err := e.callback(cb.Query())
	if err != nil {
		t.Fatalf("Callback: %v", err)
	}
	if res.Key != alice || res.Connection.Status != latchkey.StatusActive {
		t.Fatalf("got %+v, want an active connection for alice", res)
	}
	access := res.Connection.Values["access_token"]
	if !p.ValidAccessToken(access) || res.Connection.Values["refresh_token"] == "" {
		t.Fatalf("got access token valid=%v and refresh token %v, want both", p.ValidAccessToken(access), res.Connection.Values["refresh_token"] != "")
	}
	vals, err := e.store.UserValues(e.ctx, "crm", "acme", "alice")
	if err != nil || vals["access_token"] != access {
		t.Fatalf("user settings: got %v (err %v), want the access token stored", len(vals), err)
	}
	ex := p.RequestsTo(providertest.EndpointToken)[0]
	if ex.Form.Get("code_verifier") == "" || ex.Form.Get("redirect_uri") != callbackURL {
		t.Errorf("exchange: got code_verifier present=%v redirect_uri=%q", ex.Form.Get("code_verifier") != "", ex.Form.Get("redirect_uri"))
	}
	// The state was single use.
	if _, err := e.callback(cb.Query()); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
		t.Fatalf("reused state: got %v, want a bad request", err)
	}
}

func TestPKCECanBeTurnedOff(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{})
	key := alice
	key.Config = "nopkce"
	u := e.authorize(key)
	if u.Query().Get("code_challenge") != "" {
		t.Fatal("got a code_challenge with pkce: false")
	}
	e.mustConnect(p, key)
	if v := p.RequestsTo(providertest.EndpointToken)[0].Form.Get("code_verifier"); v != "" {
		t.Fatal("got a code_verifier with pkce: false")
	}
}

func TestExpiredStateAndLinkAreRefused(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{})
	cb := p.Authorize(t, e.authorize(alice).String())
	e.clock.Advance(11 * time.Minute)
	if _, err := e.callback(cb.Query()); !errors.Is(err, latchkey.ErrExpired) {
		t.Fatalf("late callback: got %v, want expired", err)
	}
	link, err := e.engine.CreateLink(e.ctx, flow.LinkRequest{Key: alice})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(11 * time.Minute)
	token := link.URL[strings.LastIndex(link.URL, "/")+1:]
	if _, err := e.engine.Authorize(e.ctx, token); !errors.Is(err, latchkey.ErrExpired) {
		t.Fatalf("expired link: got %v, want expired", err)
	}
	if _, err := e.store.GetConnection(e.ctx, alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got connection err %v, want none stored", err)
	}
}

func TestProviderDenialAndFailedExchangeStoreNothing(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{})
	p.DenyNext()
	_, err := e.connect(p, alice)
	if providerCode(err) != "access_denied" {
		t.Fatalf("denied: got %v, want the provider's access_denied", err)
	}
	p.FailNext(1, providertest.FailStatus(500))
	if _, err := e.connect(p, alice); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
		t.Fatalf("exchange answered 500: got %v, want a provider error", err)
	}
	if _, err := e.store.GetConnection(e.ctx, alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got connection err %v, want none stored", err)
	}
}

func TestLinkNeedsTheOrgsRequiredSettings(t *testing.T) {
	e, _ := genericEnv(t, providertest.Options{})
	_, err := e.engine.CreateLink(e.ctx, flow.LinkRequest{Key: latchkey.ConnectionKey{App: "crm", Org: "other", User: "bob", Config: "generic"}})
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EINVALID || len(le.Fields) != 2 {
		t.Fatalf("got %v, want an invalid error naming client_id and client_secret", err)
	}
}

func TestReturnToMustBeAllowed(t *testing.T) {
	e, _ := genericEnv(t, providertest.Options{})
	_, err := e.engine.CreateLink(e.ctx, flow.LinkRequest{Key: alice, ReturnTo: "https://evil.example/steal"})
	if latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Fatalf("got %v, want return_to refused", err)
	}
}

func TestTokenRefreshesWhenExpiredAndOnlyThen(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	first := e.mustConnect(p, alice)
	conn, err := e.engine.Token(e.ctx, alice)
	if err != nil || conn.Values["access_token"] != first.Values["access_token"] || p.RefreshCalls() != 0 {
		t.Fatalf("fresh token: got err %v, refreshes %d, want the stored token and no refresh", err, p.RefreshCalls())
	}
	e.clock.Advance(59*time.Minute + 30*time.Second) // within the one-minute margin
	conn, err = e.engine.Token(e.ctx, alice)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if p.RefreshCalls() != 1 || conn.Values["access_token"] == first.Values["access_token"] || !p.ValidAccessToken(conn.Values["access_token"]) {
		t.Fatalf("got %d refreshes, want 1 and a new valid token", p.RefreshCalls())
	}
	// Rotation: the new refresh token replaced the old one, which is dead.
	if conn.Values["refresh_token"] == first.Values["refresh_token"] || p.ValidRefreshToken(first.Values["refresh_token"]) {
		t.Fatal("got the old refresh token kept or still valid, want it rotated")
	}
	if conn.Version <= first.Version {
		t.Fatalf("got version %d after %d, want it increased", conn.Version, first.Version)
	}
}

func TestRefreshAnswerWithoutRefreshTokenKeepsTheOld(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour})
	first := e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	conn, err := e.engine.Token(e.ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if conn.Values["refresh_token"] != first.Values["refresh_token"] {
		t.Fatal("got the refresh token dropped, want the old one kept")
	}
}

func TestRefusedRefreshNeedsReauthAndKeepsTheTokens(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour})
	first := e.mustConnect(p, alice)
	p.RevokeAll()
	e.clock.Advance(2 * time.Hour)
	_, err := e.engine.Token(e.ctx, alice)
	if latchkey.ErrorCode(err) != latchkey.EPROVIDER || providerCode(err) != "invalid_grant" {
		t.Fatalf("got %v, want the provider's invalid_grant", err)
	}
	conn, err := e.store.GetConnection(e.ctx, alice)
	if err != nil || conn.Status != latchkey.StatusNeedsReauth || conn.Values["refresh_token"] != first.Values["refresh_token"] {
		t.Fatalf("got status %q (err %v), want needs_reauth with the old tokens kept", conn.Status, err)
	}
	// No retry storm: the next read answers at once without calling.
	calls := p.RefreshCalls()
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("got %v, want needs_reauth", err)
	}
	if p.RefreshCalls() != calls {
		t.Fatal("got another refresh attempt, want none")
	}
}

func TestClientCredentialsGivesTheOrgAToken(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{})
	key := latchkey.ConnectionKey{App: "crm", Org: "acme", Config: "machine"}
	conn, err := e.engine.Token(e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ValidAccessToken(conn.Values["org_token"]) || conn.User != "" {
		t.Fatalf("got %+v, want an org-level token the provider accepts", conn.ConnectionKey)
	}
	if _, err := e.engine.Token(e.ctx, key); err != nil || p.TokenCalls() != 1 {
		t.Fatalf("second read: got err %v and %d token calls, want the stored token", err, p.TokenCalls())
	}
}

func TestDisconnectRevokesAtTheProvider(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{})
	conn := e.mustConnect(p, alice)
	if err := e.engine.Disconnect(e.ctx, alice, false); err != nil {
		t.Fatal(err)
	}
	if p.ValidRefreshToken(conn.Values["refresh_token"]) {
		t.Error("got the refresh token still valid at the provider, want it revoked (RFC 7009)")
	}
	if _, err := e.store.GetConnection(e.ctx, alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v, want the connection gone", err)
	}
	if vals, _ := e.store.UserValues(e.ctx, "crm", "acme", "alice"); len(vals) != 0 {
		t.Fatalf("got %d user values left, want none", len(vals))
	}
}
