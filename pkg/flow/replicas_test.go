package flow_test

import (
	"context"
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

// readConcurrently has n callers read key's token from the engines in turn,
// and fails unless every one gets the same fresh token.
func readConcurrently(t *testing.T, engines []*flow.Engine, key latchkey.ConnectionKey, n int, p *providertest.Provider) {
	t.Helper()
	var wg sync.WaitGroup
	tokens := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := engines[i%len(engines)].Token(context.Background(), key)
			tokens[i], errs[i] = conn.Values["access_token"], err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] || !p.ValidAccessToken(tokens[i]) {
			t.Fatalf("caller %d: got a token that differs from the first or that the provider refuses", i)
		}
	}
}

// TestThousandCallersOfAnExpiredTokenCauseOneRefresh: with a provider that
// rotates refresh tokens and kills the old one on use, a second refresh would
// fail; 1,000 concurrent readers must cause exactly one.
func TestThousandCallersOfAnExpiredTokenCauseOneRefresh(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	readConcurrently(t, []*flow.Engine{e.engine}, alice, 1000, p)
	if got := p.RefreshCalls(); got != 1 {
		t.Fatalf("got %d refreshes at the provider, want exactly 1", got)
	}
}

// TestTwoServersOnOnePostgreSQLRefreshOnce runs two engines, each with its
// own store (its own connection pool, as two replicas have) on one
// PostgreSQL schema: 1,000 concurrent readers split between them cause
// exactly one refresh, thanks to the row lock and the re-read under it.
func TestTwoServersOnOnePostgreSQLRefreshOnce(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	p := providertest.New(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, Now: clock.Now})
	key, _ := secretbox.GenerateKey()
	var engines []*flow.Engine
	var envs []*env
	for range 2 {
		ring, _ := secretbox.NewKeyring(key)
		st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: dsn, Keyring: ring})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		eng := flow.New(flow.Config{Store: st, Now: clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect"})
		engines = append(engines, eng)
		envs = append(envs, &env{tb: t, ctx: context.Background(), engine: eng, store: st, clock: clock})
	}
	envs[0].save(genericApp(p.BaseURL()))
	envs[0].install("crm", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
	envs[0].mustConnect(p, alice)
	clock.Advance(2 * time.Hour)
	readConcurrently(t, engines, alice, 1000, p)
	if got := p.RefreshCalls(); got != 1 {
		t.Fatalf("got %d refreshes at the provider, want exactly 1", got)
	}
}
