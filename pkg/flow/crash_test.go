package flow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestLostRefreshAnswerEndsInNeedsReauth has the provider rotate the
// refresh token and then drop the connection before answering (as when
// Latchkey is killed between the provider's answer and the write). The
// refresh is a passing failure; the next attempt, with the old refresh
// token the provider has now invalidated, is refused: the connection is
// needs_reauth at once, its old tokens kept for inspection, reads answer
// needs_reauth instead of the stale token, and one connection.needs_reauth
// event is emitted.
func TestLostRefreshAnswerEndsInNeedsReauth(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	var mu sync.Mutex
	var events []latchkey.Event
	e.engine = flow.New(flow.Config{Store: e.store, Now: e.clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect",
		Events: func(_ context.Context, ev latchkey.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	first := e.mustConnect(p, alice)
	oldRT := first.Values["refresh_token"]
	e.clock.Advance(2 * time.Hour)

	p.FailNext(1, providertest.Failure{Kind: providertest.KindReset, Processed: true, On: providertest.EndpointRefresh})
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
		t.Fatalf("lost answer: got %v, want the provider's failure", err)
	}
	if p.ValidRefreshToken(oldRT) {
		t.Fatal("the provider still accepts the old refresh token, want it rotated away")
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusActive || conn.Failures != 1 || conn.Values["refresh_token"] != oldRT {
		t.Fatalf("after the lost answer: got status %q failures %d; want active, 1, the old refresh token kept", conn.Status, conn.Failures)
	}

	e.clock.Advance(time.Minute) // past the backoff
	_, err := e.engine.Token(e.ctx, alice)
	if code := providerCode(err); code != "invalid_grant" {
		t.Fatalf("next attempt: got %v, want the provider's invalid_grant", err)
	}
	conn, _ = e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusNeedsReauth || conn.Values["refresh_token"] != oldRT ||
		conn.Values["access_token"] != first.Values["access_token"] || conn.LastError == "" {
		t.Fatalf("got status %q, old tokens kept %v, last error %q; want needs_reauth with the old tokens and the error",
			conn.Status, conn.Values["refresh_token"] == oldRT && conn.Values["access_token"] == first.Values["access_token"], conn.LastError)
	}
	calls := p.RefreshCalls()
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("read after: got %v, want needs_reauth, not the stale token", err)
	}
	if p.RefreshCalls() != calls {
		t.Fatalf("got %d more refreshes, want none after needs_reauth", p.RefreshCalls()-calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Type != latchkey.EventConnectionCreated || events[1].Type != latchkey.EventConnectionNeedsReauth ||
		events[1].Error == nil || events[1].Error.Code != "invalid_grant" {
		t.Fatalf("got events %+v, want connection.created then connection.needs_reauth with invalid_grant", events)
	}
}
