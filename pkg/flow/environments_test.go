package flow_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestWorkerIsFairAcrossEnvironments floods dev with due refreshes and
// gives prod one: a round of a worker whose batch dev alone would fill
// refreshes prod's connection too. prod's connection was made through the
// same callback URL as dev's: its state said its environment.
func TestWorkerIsFairAcrossEnvironments(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour})
	for i := range 10 {
		k := alice
		k.User = fmt.Sprintf("dev-user-%d", i)
		e.mustConnect(p, k)
	}
	dev := e.ctx
	e.ctx = latchkey.WithEnvironment(dev, latchkey.EnvProd)
	e.save(genericApp(p.BaseURL()))
	e.install("crm", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
	carol := alice
	carol.User = "carol"
	before := e.mustConnect(p, carol)
	prod := e.ctx
	e.ctx = dev
	if _, err := e.store.GetConnection(dev, carol); err == nil {
		t.Fatal("carol's prod connection is visible in dev")
	}
	e.clock.Advance(58 * time.Minute)

	w := &flow.Worker{Engine: e.engine, Margin: 5 * time.Minute, Batch: 4}
	n, err := w.RunOnce(dev)
	if err != nil || n != 4 {
		t.Fatalf("RunOnce: got %d claimed (%v), want a full batch of 4", n, err)
	}
	after, err := e.store.GetConnection(prod, carol)
	if err != nil || after.Values["access_token"] == before.Values["access_token"] {
		t.Fatalf("carol's prod connection after the round: %v; want it refreshed in the same round as dev's flood", err)
	}
	// dev's flood goes on in the next rounds.
	total := n
	for range 5 {
		n, err := w.RunOnce(dev)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 11 {
		t.Fatalf("got %d refreshes over the rounds, want dev's 10 and prod's 1", total)
	}
}

// TestEnvironmentWithItsOwnHost gives prod a public URL of its own: prod's
// links and its default redirect_uri are on that host, dev's on the
// server's.
func TestEnvironmentWithItsOwnHost(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{})
	if _, err := e.store.PutEnvironment(e.ctx, latchkey.EnvironmentInfo{Name: latchkey.EnvProd, PublicURL: "https://prod.latchkey.test"}); err != nil {
		t.Fatal(err)
	}
	engine := flow.New(flow.Config{Store: e.store, Now: e.clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect",
		EnvironmentURL: func(ctx context.Context) string {
			info, err := e.store.GetEnvironment(ctx, latchkey.EnvironmentFrom(ctx))
			if err != nil {
				return ""
			}
			return info.PublicURL
		}})
	prod := latchkey.WithEnvironment(e.ctx, latchkey.EnvProd)
	app, err := latchkey.ParseApp([]byte(genericApp(p.BaseURL())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.SaveApp(prod, app); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PutInstallation(prod, latchkey.Installation{App: "crm", Org: "acme", Values: map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()}}); err != nil {
		t.Fatal(err)
	}
	for ctx, want := range map[context.Context]string{e.ctx: "https://latchkey.test", prod: "https://prod.latchkey.test"} {
		link, err := engine.CreateLink(ctx, flow.LinkRequest{Key: alice})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(link.URL, want+"/connect/") {
			t.Fatalf("link in %q: got %s, want it on %s", latchkey.EnvironmentFrom(ctx), link.URL, want)
		}
		token := link.URL[strings.LastIndex(link.URL, "/")+1:]
		auth, err := engine.Authorize(e.ctx, token) // the landing page's URL says no environment
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(auth.URL)
		if got := u.Query().Get("redirect_uri"); got != want+"/oauth/callback" {
			t.Fatalf("redirect_uri in %q: got %s, want %s/oauth/callback", latchkey.EnvironmentFrom(ctx), got, want)
		}
	}
}
