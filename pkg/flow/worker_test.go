package flow_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

func TestWorkerRefreshesTokensBeforeTheyExpire(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	soon := e.mustConnect(p, alice)
	e.clock.Advance(50 * time.Minute)
	bob := alice
	bob.User = "bob"
	e.mustConnect(p, bob) // expires in an hour from now: not due
	e.clock.Advance(6 * time.Minute)

	w := &flow.Worker{Engine: e.engine, Margin: 5 * time.Minute}
	n, err := w.RunOnce(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("got %d claimed (%v), want alice's connection only", n, err)
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Values["access_token"] == soon.Values["access_token"] || !p.ValidAccessToken(conn.Values["access_token"]) {
		t.Fatal("got alice's token not refreshed ahead of its expiry")
	}
	if p.RefreshCalls() != 1 {
		t.Fatalf("got %d refreshes, want 1", p.RefreshCalls())
	}
	// A read now finds the token fresh: no refresh on the read path.
	if _, err := e.engine.Token(e.ctx, alice); err != nil || p.RefreshCalls() != 1 {
		t.Fatalf("read after the worker: got %v and %d refreshes, want the fresh token and 1", err, p.RefreshCalls())
	}
}

// TestWorkerReusesProviderConnections: 400 refreshes, 8 at a time, go
// through a handful of kept-alive connections to the provider, not a new
// connection (with TLS, a handshake) for most of them.
func TestWorkerReusesProviderConnections(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour})
	storeDue(t, e, mintTokens(t, p, 400), e.clock.Now().Add(time.Minute))
	before := p.Connections()
	w := &flow.Worker{Engine: e.engine, Batch: 400, Concurrency: 8}
	if n, err := w.RunOnce(e.ctx); err != nil || n != 400 {
		t.Fatalf("RunOnce: got %d claimed (%v), want 400", n, err)
	}
	if p.RefreshCalls() != 400 {
		t.Fatalf("got %d refreshes, want 400", p.RefreshCalls())
	}
	if opened := p.Connections() - before; opened > 16 {
		t.Fatalf("got %d connections opened to the provider for 400 refreshes 8 at a time, want at most 16", opened)
	}
}

// TestTwoWorkersOnPostgreSQLRefreshTenThousandConnectionsOnce: 10,000
// connections expiring together, two replicas' workers on one database: every
// one refreshed, none twice, no refresh token lost (the provider rotates them
// and kills the old one on use, so a duplicate or a lost write would show).
func TestTwoWorkersOnPostgreSQLRefreshTenThousandConnectionsOnce(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	if testing.Short() {
		t.Skip("10,000 connections: not in -short")
	}
	const n = 10000
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	p := providertest.New(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, Now: clock.Now,
		RedirectURIs: []string{callbackURL}})
	key, _ := secretbox.GenerateKey()
	var engines []*flow.Engine
	var stores []*sqlstore.Store
	for range 2 {
		ring, _ := secretbox.NewKeyring(key)
		st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: dsn, Keyring: ring})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
		engines = append(engines, flow.New(flow.Config{Store: st, Now: clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect"}))
	}
	e0 := &env{tb: t, ctx: context.Background(), engine: engines[0], store: stores[0], clock: clock}
	e0.save(genericApp(p.BaseURL()))
	e0.install("crm", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})

	// n connections with real tokens from the provider, stored directly.
	storeDue(t, e0, mintTokens(t, p, n), clock.Now().Add(time.Hour))

	clock.Advance(57 * time.Minute) // all due within the 5-minute margin
	ctx := context.Background()
	var claimed [2]int
	var rounds sync.WaitGroup
	for i, eng := range engines {
		rounds.Add(1)
		go func() {
			defer rounds.Done()
			w := &flow.Worker{Engine: eng, Margin: 5 * time.Minute, Batch: 200, Concurrency: 8}
			for {
				got, err := w.RunOnce(ctx)
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
					return
				}
				if got == 0 {
					return
				}
				claimed[i] += got
			}
		}()
	}
	rounds.Wait()
	if got := p.RefreshCalls(); got != n {
		t.Fatalf("got %d refreshes at the provider, want exactly %d (claimed %d and %d)", got, n, claimed[0], claimed[1])
	}
	if claimed[0] == 0 || claimed[1] == 0 {
		t.Errorf("got claims %v, want both replicas to share the work", claimed)
	}
	for i := range n {
		k := latchkey.ConnectionKey{App: "crm", Org: "acme", User: fmt.Sprintf("u%06d", i), Config: "generic"}
		conn, err := stores[1].GetConnection(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !p.ValidRefreshToken(conn.Values["refresh_token"]) || !p.ValidAccessToken(conn.Values["access_token"]) || conn.Expired(clock.Now(), 5*time.Minute) {
			t.Fatalf("connection %d: got a dead token or one still due, want a fresh pair", i)
		}
	}
}

// TestWorkerKeepsIdleRefreshTokensAlive: a provider whose refresh tokens
// die when unused for two hours (each refresh issues a new one, good for
// two more), access tokens that last a day, and a user who reads nothing
// for a day. With keep_alive_interval: 1h the worker refreshes the idle
// connection every hour and the token still works when the access token
// expires; without it, the refresh token lapses and the connection needs
// the user again.
func TestWorkerKeepsIdleRefreshTokensAlive(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: 24 * time.Hour, RefreshTTL: 2 * time.Hour, RotateRefreshTokens: true})
	kept := strings.Replace(strings.Replace(genericApp(p.BaseURL()), "name: crm", "name: kept", 1),
		"    refresh_token_variable_name: refresh_token\n", "    refresh_token_variable_name: refresh_token\n    keep_alive_interval: 1h\n", 1)
	e.save(kept)
	e.install("kept", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
	idle := alice // app crm: no keep-alive
	alive := latchkey.ConnectionKey{App: "kept", Org: "acme", User: "alice", Config: "generic"}
	e.mustConnect(p, idle)
	first := e.mustConnect(p, alive)
	if want := e.clock.Now().Add(time.Hour); !first.KeepAliveAt.Equal(want) {
		t.Fatalf("got keep-alive at %v, want an hour after the connection, %v", first.KeepAliveAt, want)
	}

	w := &flow.Worker{Engine: e.engine}
	if n, err := w.RunOnce(e.ctx); err != nil || n != 0 {
		t.Fatalf("right after connecting: claimed %d (%v), want none", n, err)
	}
	for hour := 1; hour <= 24; hour++ {
		e.clock.Advance(time.Hour)
		if _, err := w.RunOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.RefreshCalls(); got < 20 || got > 25 {
		t.Fatalf("got %d refreshes in a day, want about one an hour for the kept connection only", got)
	}
	conn, err := e.engine.Token(e.ctx, alive)
	if err != nil || !p.ValidAccessToken(conn.Values["access_token"]) || conn.Status != latchkey.StatusActive {
		t.Fatalf("kept connection after a day: got %+v (%v), want a working token", conn, err)
	}
	if !conn.KeepAliveAt.After(e.clock.Now()) {
		t.Fatalf("got next keep-alive at %v, want after now %v", conn.KeepAliveAt, e.clock.Now())
	}
	// The connection without keep-alive: its refresh token died after two
	// idle hours, so its day-old access token cannot be renewed.
	_, err = e.engine.Token(e.ctx, idle)
	if latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("idle connection after a day: got %v, want needs_reauth", err)
	}
}
