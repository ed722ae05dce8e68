package flow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// mintTokens gets n token pairs from the provider through the code flow.
func mintTokens(tb testing.TB, p *providertest.Provider, n int) []*oauth2.Token {
	oc := p.OAuth2Config(callbackURL)
	out := make([]*oauth2.Token, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			loc := p.Authorize(tb, oc.AuthCodeURL("s"))
			tok, err := oc.Exchange(context.Background(), loc.Query().Get("code"))
			if err != nil {
				tb.Error(err)
				return
			}
			out[i] = tok
		}()
	}
	wg.Wait()
	return out
}

// BenchmarkWorkerRefreshes puts the worker's refresh rate (Worker.Run:
// claim, refresh, encrypted write, on SQLite and PostgreSQL) beside the fake provider's own rate
// for the same refreshes sent straight by x/oauth2, both 8 at a time, in the
// same run, through the same HTTP client. Run with -benchtime Nx: N
// refreshes per measurement.
func BenchmarkWorkerRefreshes(b *testing.B) {
	b.Run("provider", func(b *testing.B) {
		p := providertest.New(b, providertest.Options{AccessTTL: time.Hour, RedirectURIs: []string{callbackURL}})
		toks := mintTokens(b, p, b.N)
		oc := p.OAuth2Config(callbackURL)
		// The engine's client, so that both sides keep the same connections open.
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, flow.NewHTTPClient(30*time.Second))
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan *oauth2.Token)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for tok := range next {
					expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
					if _, err := oc.TokenSource(ctx, expired).Token(); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, t := range toks {
			next <- t
		}
		close(next)
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "refreshes/s")
	})
	b.Run("worker-sqlite", func(b *testing.B) { benchWorker(b, newEnv(b)) })
	b.Run("worker-postgres", func(b *testing.B) { benchWorker(b, newPostgresEnv(b)) })
}

// newPostgresEnv is newEnv on a PostgreSQL schema of the test's own.
func newPostgresEnv(b *testing.B) *env {
	dsn := storetest.PostgresURL(b)
	key, _ := secretbox.GenerateKey()
	ring, _ := secretbox.NewKeyring(key)
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: dsn, Keyring: ring})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	e := flow.New(flow.Config{Store: st, Now: clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect"})
	return &env{tb: b, ctx: context.Background(), engine: e, store: st, clock: clock}
}

func benchWorker(b *testing.B, e *env) {
	{
		p := providertest.New(b, providertest.Options{AccessTTL: time.Hour, Now: e.clock.Now, RedirectURIs: []string{callbackURL}})
		e.save(genericApp(p.BaseURL()))
		e.install("crm", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
		storeDue(b, e, mintTokens(b, p, b.N), e.clock.Now().Add(time.Minute))
		// Statistics, as autovacuum would have gathered them by now on a
		// table that grew this much: without them PostgreSQL plans the
		// batch writes as scans of the whole table.
		if err := e.store.DB().Exec("ANALYZE").Error; err != nil {
			b.Fatal(err)
		}
		w := &flow.Worker{Engine: e.engine, Batch: 200, Concurrency: 8, Interval: time.Millisecond}
		ctx, stop := context.WithCancel(e.ctx)
		b.ResetTimer()
		start := time.Now()
		ran := make(chan struct{})
		go func() { w.Run(ctx); close(ran) }()
		for p.RefreshCalls() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		stop()
		<-ran // every answer written
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "refreshes/s")
		if n, err := w.RunOnce(e.ctx); err != nil || n != 0 {
			b.Fatalf("after the run: %d still due (%v), want none", n, err)
		}
		if got := p.RefreshCalls(); got != int64(b.N) {
			b.Fatalf("got %d refreshes, want %d", got, b.N)
		}
	}
}

// storeDue stores one connection of app crm per token pair, for users
// u000000, u000001…, expiring at expires (on the test's clock: x/oauth2
// computes Expiry from the real one).
func storeDue(tb testing.TB, e *env, toks []*oauth2.Token, expires time.Time) {
	tb.Helper()
	for i, tok := range toks {
		_, err := e.store.PutConnection(e.ctx, latchkey.Connection{
			ConnectionKey: latchkey.ConnectionKey{App: "crm", Org: "acme", User: fmt.Sprintf("u%06d", i), Config: "generic"},
			Status:        latchkey.StatusActive, ExpiresAt: expires,
			Values: map[string]string{"access_token": tok.AccessToken, "refresh_token": tok.RefreshToken}})
		if err != nil {
			tb.Fatal(err)
		}
	}
}
