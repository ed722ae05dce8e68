package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

func users(cs []store.Claimed) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Conn.User
	}
	return out
}

func testClaimRefreshes(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPutApp(t, s, "demo")
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	put := func(user string, expires time.Time, status latchkey.ConnectionStatus, next time.Time) latchkey.Connection {
		c := conn(key("demo", "acme", user, "main"), map[string]string{"access_token": "at-" + user, "refresh_token": "rt-" + user})
		c.ExpiresAt, c.Status, c.NextAttemptAt = expires, status, next
		return mustPutConn(t, s, c)
	}
	put("soon", now.Add(2*time.Minute), latchkey.StatusActive, time.Time{})
	put("sooner", now.Add(time.Minute), latchkey.StatusActive, time.Time{})
	put("later", now.Add(time.Hour), latchkey.StatusActive, time.Time{})
	put("noexpiry", time.Time{}, latchkey.StatusActive, time.Time{})
	put("broken", now.Add(time.Minute), latchkey.StatusNeedsReauth, time.Time{})
	put("waiting", now.Add(3*time.Minute), latchkey.StatusActive, now.Add(time.Minute))
	// Valid for a day, but its refresh token must be kept alive now.
	idle := conn(key("demo", "acme", "idle", "main"), map[string]string{"access_token": "at-idle", "refresh_token": "rt-idle"})
	idle.ExpiresAt, idle.Status, idle.KeepAliveAt = now.Add(24*time.Hour), latchkey.StatusActive, now.Add(-time.Second)
	mustPutConn(t, s, idle)
	// Another connection of user "soon" owns a value its templates may use.
	other := conn(key("demo", "acme", "soon", "crm"), map[string]string{"instance_url": "https://soon.example"})
	other.Status = latchkey.StatusActive
	mustPutConn(t, s, other)

	// A read before the claim (a store may cache it) must not hide the
	// lease, nor later the written answer.
	if _, err := s.GetConnection(ctx, key("demo", "acme", "soon", "main")); err != nil {
		t.Fatal(err)
	}
	got, lost, err := s.ClaimRefreshes(ctx, now, now.Add(5*time.Minute), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetConnection(ctx, key("demo", "acme", "soon", "main")); !c.RefreshingUntil.Equal(now.Add(time.Minute)) || !c.WorkerLease {
		t.Fatalf("read after the claim: got lease %v (worker's %v), want the claim's, marked as the worker's", c.RefreshingUntil, c.WorkerLease)
	}
	if u := users(got); len(got) != 3 || u[0] != "sooner" || u[1] != "soon" || u[2] != "idle" || len(lost) != 0 {
		t.Fatalf("got %v (lost %v), want sooner, soon and idle, soonest expiry first, none lost", u, lost)
	}
	soon := got[1]
	if !soon.Conn.RefreshingUntil.Equal(now.Add(time.Minute)) || soon.Conn.Values["refresh_token"] != "rt-soon" ||
		soon.Conn.Values["instance_url"] != "" || soon.UserValues["instance_url"] != "https://soon.example" ||
		soon.UserValues["refresh_token"] != "rt-soon" || soon.Conn.Version != 2 {
		t.Fatalf("got %+v, want soon leased for a minute at version 2 with its own values, and its user's", soon)
	}
	// The claim's leases are the worker's: the provider may never be asked.
	for _, c := range got {
		if !c.Conn.WorkerLease {
			t.Fatalf("claimed %s: got WorkerLease false, want true", c.Conn.User)
		}
	}
	// Leased: neither claimed again nor lost until the lease ends.
	if again, lost, _ := s.ClaimRefreshes(ctx, now, now.Add(5*time.Minute), 10, time.Minute); len(again)+len(lost) != 0 {
		t.Fatalf("during the lease: got %v and lost %v, want nothing", users(again), lost)
	}

	// The answers: soon refreshed, sooner failed, idle changed meanwhile.
	next := soon.Conn
	next.Values = map[string]string{"access_token": "at-soon-2", "refresh_token": "rt-soon-2", "instance_url": "https://soon.example/2"}
	next.ExpiresAt, next.RefreshingUntil, next.RefreshedAt, next.WorkerLease = now.Add(time.Hour), time.Time{}, now, false
	failed := got[0].Conn
	failed.RefreshingUntil, failed.Failures, failed.LastError, failed.NextAttemptAt = time.Time{}, 1, "HTTP 503", now.Add(time.Minute)
	failed.WorkerLease = false
	failed.Values = nil // the old tokens stay as they are
	changed := mustPutConn(t, s, conn(key("demo", "acme", "idle", "main"), map[string]string{"access_token": "at-idle-new"}))
	stale := got[2].Conn
	stale.RefreshingUntil = time.Time{}
	errs, err := s.WriteRefreshes(ctx, []latchkey.Connection{next, failed, stale})
	if err != nil || len(errs) != 3 || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], store.ErrConflict) {
		t.Fatalf("got %v (%v), want soon and sooner written and idle refused: it changed since its claim", errs, err)
	}
	c, _ := s.GetConnection(ctx, key("demo", "acme", "soon", "main"))
	if c.Values["refresh_token"] != "rt-soon-2" || c.Values["instance_url"] != "https://soon.example/2" || !c.RefreshingUntil.IsZero() ||
		c.WorkerLease || c.Version != 3 || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("got %+v, want soon's new tokens and the value it took over, at version 3 with no lease (nor the worker's mark)", c)
	}
	if c, _ := s.GetConnection(ctx, key("demo", "acme", "soon", "crm")); len(c.Values) != 0 {
		t.Fatalf("got %v, want the value soon's main connection took over gone from its crm connection", c.Values)
	}
	c, _ = s.GetConnection(ctx, key("demo", "acme", "sooner", "main"))
	if c.Values["refresh_token"] != "rt-sooner" || c.Failures != 1 || c.LastError != "HTTP 503" || !c.NextAttemptAt.Equal(now.Add(time.Minute)) ||
		c.WorkerLease {
		t.Fatalf("got %+v, want sooner's old tokens kept with its failure, not marked as the worker's", c)
	}
	if c, _ := s.GetConnection(ctx, changed.ConnectionKey); c.Values["access_token"] != "at-idle-new" || c.Version != changed.Version {
		t.Fatalf("got %+v, want what was written meanwhile", c)
	}
	if errs, _ := s.WriteRefreshes(ctx, []latchkey.Connection{conn(key("demo", "acme", "gone", "main"), nil)}); len(errs) != 1 || !errors.Is(errs[0], store.ErrNotFound) {
		t.Fatalf("a deleted connection: got %v, want ErrNotFound", errs)
	}

	// A lease that ran out unanswered is a lost refresh, claimed once, not
	// leased again: what it means is the engine's call.
	lostConn := put("crashed", now.Add(time.Minute), latchkey.StatusActive, time.Time{})
	lostConn.RefreshingUntil = now.Add(30 * time.Second)
	mustPutConn(t, s, lostConn)
	later := now.Add(90 * time.Second)
	again, lost, err := s.ClaimRefreshes(ctx, later, later.Add(5*time.Minute), 10, time.Minute)
	if err != nil || len(lost) != 1 || lost[0].User != "crashed" {
		t.Fatalf("got lost %v (%v), want crashed", lost, err)
	}
	for _, c := range again {
		if c.Conn.User == "crashed" {
			t.Fatal("a lost refresh was leased again as a due one")
		}
	}
	if _, lost, _ := s.ClaimRefreshes(ctx, later, later.Add(5*time.Minute), 10, time.Minute); len(lost) != 0 {
		t.Fatalf("lost refresh claimed twice: %v", lost)
	}
	// The connection that waited for its retry is due once its time comes.
	found := false
	for _, c := range again {
		found = found || c.Conn.User == "waiting"
	}
	if !found {
		t.Fatalf("got %v, want waiting among them once its retry time came", users(again))
	}
	// A lease the claim took and nobody answered is lost in turn, still
	// marked as the worker's (so the engine knows the provider may never
	// have been asked); the read-path lease of crashed is not.
	if c, _ := s.GetConnection(ctx, key("demo", "acme", "crashed", "main")); c.WorkerLease {
		t.Fatal("crashed: got WorkerLease true, want false for a lease not taken by a claim")
	}
	after := later.Add(2 * time.Minute)
	_, lost, err = s.ClaimRefreshes(ctx, after, after.Add(5*time.Minute), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	lostUsers := map[string]bool{}
	for _, k := range lost {
		lostUsers[k.User] = true
	}
	if !lostUsers["waiting"] {
		t.Fatalf("got lost %v, want waiting, whose claim's lease ran out", lost)
	}
	if c, _ := s.GetConnection(ctx, key("demo", "acme", "waiting", "main")); !c.WorkerLease || c.RefreshingUntil.IsZero() {
		t.Fatalf("waiting after its lost claim: got WorkerLease %v, lease %v; want the claim's lease, still the worker's", c.WorkerLease, c.RefreshingUntil)
	}
}
