package flow_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestRefreshFailuresBackOffAndRecover injects each way a token endpoint
// fails into the refresh of an expired token. Each passing failure answers
// with the provider's error, then refresh_pending without calling the
// provider until the backoff (or the provider's Retry-After) has passed, and
// then the refresh succeeds with the same refresh token: none is ever lost.
func TestRefreshFailuresBackOffAndRecover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  providertest.Failure
		retry time.Duration // the exact wait when the provider names one
	}{
		{"HTTP 500", providertest.FailStatus(500), 0},
		{"HTTP 503", providertest.FailStatus(503), 0},
		{"HTTP 429 with Retry-After", providertest.FailRateLimited(30 * time.Second), 30 * time.Second},
		{"a timeout", providertest.FailTimeout(time.Second), 0},
		{"a reset connection", providertest.FailReset(), 0},
		{"an HTML page", providertest.FailHTML(502), 0},
		{"truncated JSON", providertest.FailTruncated(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
			e.engine = flow.New(flow.Config{Store: e.store, Now: e.clock.Now, CallbackURL: callbackURL,
				ConnectURL: "https://latchkey.test/connect", HTTPClient: flow.NewHTTPClient(300 * time.Millisecond)})
			first := e.mustConnect(p, alice)
			e.clock.Advance(2 * time.Hour)
			p.FailNext(1, tc.fail)

			_, err := e.engine.Token(e.ctx, alice)
			if latchkey.ErrorCode(err) != latchkey.EPROVIDER {
				t.Fatalf("first read: got %v, want the provider's failure", err)
			}
			conn, _ := e.store.GetConnection(e.ctx, alice)
			if conn.Status != latchkey.StatusActive || conn.Failures != 1 || conn.Values["refresh_token"] != first.Values["refresh_token"] {
				t.Fatalf("got status %q failures %d, refresh token kept %v; want active, 1, kept", conn.Status, conn.Failures,
					conn.Values["refresh_token"] == first.Values["refresh_token"])
			}
			wait := conn.NextAttemptAt.Sub(e.clock.Now())
			if tc.retry != 0 && wait != tc.retry {
				t.Fatalf("got a wait of %v, want the provider's Retry-After %v", wait, tc.retry)
			}
			if tc.retry == 0 && (wait < 1600*time.Millisecond || wait > 2400*time.Millisecond) {
				t.Fatalf("got a wait of %v, want 2s ±20%%", wait)
			}

			// Within the backoff: a clear 424-class answer, and no call.
			calls := p.RefreshCalls()
			_, err = e.engine.Token(e.ctx, alice)
			if latchkey.ErrorCode(err) != latchkey.EREFRESHING {
				t.Fatalf("during the backoff: got %v, want refresh_pending", err)
			}
			if p.RefreshCalls() != calls {
				t.Fatal("during the backoff: the provider was called")
			}

			e.clock.Advance(wait)
			fresh, err := e.engine.Token(e.ctx, alice)
			if err != nil || !p.ValidAccessToken(fresh.Values["access_token"]) {
				t.Fatalf("after the backoff: got %v, want a fresh token", err)
			}
			if fresh.Failures != 0 || !fresh.NextAttemptAt.IsZero() || fresh.LastError != "" {
				t.Fatalf("after recovering: got failures %d, next attempt %v, last error %q; want them cleared",
					fresh.Failures, fresh.NextAttemptAt, fresh.LastError)
			}
		})
	}
}

// TestRepeatedRefreshFailuresEndInRefreshFailed: a provider that keeps
// failing is tried with growing waits, then the connection is refresh_failed
// and reads answer 409-class needs_reauth with the last error.
func TestRepeatedRefreshFailuresEndInRefreshFailed(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour})
	e.engine = flow.New(flow.Config{Store: e.store, Now: e.clock.Now, CallbackURL: callbackURL,
		ConnectURL: "https://latchkey.test/connect", MaxRefreshFailures: 4})
	e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	p.FailNext(100, providertest.FailStatus(http.StatusServiceUnavailable))
	var waits []time.Duration
	for i := 0; i < 4; i++ {
		if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
			t.Fatalf("attempt %d: got %v, want the provider's failure", i+1, err)
		}
		conn, _ := e.store.GetConnection(e.ctx, alice)
		if conn.NextAttemptAt.IsZero() {
			break
		}
		w := conn.NextAttemptAt.Sub(e.clock.Now())
		waits = append(waits, w)
		e.clock.Advance(w)
	}
	if len(waits) != 3 || waits[1] < waits[0] || waits[2] < waits[1] {
		t.Fatalf("got waits %v, want three growing ones before giving up", waits)
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusRefreshFailed || conn.Failures != 4 {
		t.Fatalf("got status %q after %d failures, want refresh_failed after 4", conn.Status, conn.Failures)
	}
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("got %v, want needs_reauth", err)
	}
}
