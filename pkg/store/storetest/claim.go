package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

func testClaimDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPutApp(t, s, "demo")
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	put := func(user string, expires time.Time, status latchkey.ConnectionStatus, next time.Time) {
		c := conn(key("demo", "acme", user, "main"), map[string]string{"access_token": "at-" + user})
		c.ExpiresAt, c.Status, c.NextAttemptAt = expires, status, next
		mustPutConn(t, s, c)
	}
	put("soon", now.Add(2*time.Minute), latchkey.StatusActive, time.Time{})
	put("sooner", now.Add(time.Minute), latchkey.StatusActive, time.Time{})
	put("later", now.Add(time.Hour), latchkey.StatusActive, time.Time{})
	put("noexpiry", time.Time{}, latchkey.StatusActive, time.Time{})
	put("broken", now.Add(time.Minute), latchkey.StatusNeedsReauth, time.Time{})
	put("waiting", now.Add(3*time.Minute), latchkey.StatusActive, now.Add(time.Minute))

	got, err := s.ClaimDue(ctx, now, now.Add(5*time.Minute), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].User != "sooner" || got[1].User != "soon" {
		t.Fatalf("got %v, want sooner and soon, soonest first", got)
	}
	// Leased: not claimed again until the lease ends.
	if again, _ := s.ClaimDue(ctx, now, now.Add(5*time.Minute), 10, time.Minute); len(again) != 0 {
		t.Fatalf("during the lease: got %v, want nothing", again)
	}
	later := now.Add(90 * time.Second)
	again, _ := s.ClaimDue(ctx, later, later.Add(5*time.Minute), 1, time.Minute)
	if len(again) != 1 || again[0].User != "sooner" {
		t.Fatalf("after the lease, limit 1: got %v, want sooner", again)
	}
	// The connection that waited for its retry is due once its time comes.
	again, _ = s.ClaimDue(ctx, later, later.Add(5*time.Minute), 10, time.Minute)
	if len(again) != 2 {
		t.Fatalf("got %v, want soon and waiting", again)
	}
}
