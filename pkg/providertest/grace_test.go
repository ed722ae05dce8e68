package providertest

import (
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// With RefreshGrace, a rotated refresh token still refreshes, into a new
// pair, for the grace period after its first use, and is refused after.
func TestRefreshGraceKeepsTheRotatedTokenForAWhile(t *testing.T) {
	clock := NewClock(t0)
	p := New(t, Options{RotateRefreshTokens: true, RefreshGrace: time.Minute, Now: clock.Now})
	c := code(t, p, authParams(p))
	first := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}, true).json(t)
	rt := first["refresh_token"].(string)
	refresh := func(rt string) answer {
		return postForm(t, p, p.RefreshURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	}
	a := refresh(rt)
	wantEqual(t, "refresh status", a.status, 200)
	lost, _ := a.json(t)["refresh_token"].(string)
	if lost == "" || lost == rt {
		t.Fatalf("new refresh token: got %q, want a new one", lost)
	}

	clock.Advance(50 * time.Second) // within the grace of the first use
	wantEqual(t, "previous token valid in the grace", p.ValidRefreshToken(rt), true)
	again := refresh(rt)
	wantEqual(t, "reuse within the grace status", again.status, 200)
	newest, _ := again.json(t)["refresh_token"].(string)
	if newest == "" || newest == rt || newest == lost {
		t.Fatalf("refresh token of the reuse: got %q, want another new one", newest)
	}
	access, _ := again.json(t)["access_token"].(string)
	wantEqual(t, "access token of the reuse valid", p.ValidAccessToken(access), true)

	clock.Advance(11 * time.Second) // 61 s after the first use: the grace is over
	wantEqual(t, "previous token valid past the grace", p.ValidRefreshToken(rt), false)
	late := refresh(rt)
	wantEqual(t, "reuse past the grace status", late.status, 400)
	wantEqual(t, "reuse past the grace error", late.json(t)["error"], any("invalid_grant"))
	wantEqual(t, "newest refresh status", refresh(newest).status, 200)
}

// OnRequest hears a refresh as it arrives, and the answer waits for it.
func TestOnRequestHearsARefreshBeforeItIsAnswered(t *testing.T) {
	p := New(t, Options{})
	c := code(t, p, authParams(p))
	first := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}, true).json(t)
	var heard atomic.Int64
	arrived, release := make(chan struct{}), make(chan struct{})
	p.OnRequest(func(r Request) {
		if r.Endpoint != EndpointRefresh {
			return
		}
		if heard.Add(1) == 1 {
			close(arrived)
			<-release
		}
	})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}
	done := make(chan answer, 1)
	go func() { done <- postForm(t, p, p.RefreshURL(), form, true) }()
	<-arrived
	select {
	case <-done:
		t.Fatal("the refresh was answered while the hook held it, want it to wait")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	wantEqual(t, "refresh status", (<-done).status, 200)
	p.OnRequest(nil)
	postForm(t, p, p.RefreshURL(), form, true)
	wantEqual(t, "refreshes heard after removing the hook", heard.Load(), int64(1))
}
