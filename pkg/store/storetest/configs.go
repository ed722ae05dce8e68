package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// without returns app's document without the OAuth configs named.
func without(app latchkey.App, names ...string) latchkey.App {
	out := app
	out.OAuthConfigs = nil
	for _, c := range app.OAuthConfigs {
		drop := false
		for _, n := range names {
			drop = drop || c.Name == n
		}
		if !drop {
			out.OAuthConfigs = append(out.OAuthConfigs, c)
		}
	}
	return out
}

// testAppDroppingConfigs: a document that drops a config with connections
// is refused, naming the config and the count, and changes nothing; with
// DeleteConnections those connections and their values go with it, and
// the others stay; a new connection of a dropped config is refused.
func testAppDroppingConfigs(t *testing.T, s store.Store) {
	before := mustPutApp(t, s, "demo")
	alice, bob := key("demo", "acme", "alice", "alt"), key("demo", "acme", "bob", "alt")
	kept := key("demo", "acme", "alice", "main")
	mustPutConn(t, s, conn(alice, map[string]string{"alt_token": "a1"}))
	mustPutConn(t, s, conn(bob, map[string]string{"alt_token": "b1"}))
	mustPutConn(t, s, conn(kept, map[string]string{"access_token": "m1"}))
	if err := s.CreateLink(ctx, "link-of-alt", latchkey.Link{ConnectionKey: key("demo", "acme", "carol", "alt"), ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	_, err := s.PutApp(ctx, without(App("demo"), "alt"))
	wantErr(t, "PutApp dropping a config with connections", err, store.ErrConflict)
	var le *latchkey.Error
	if !errors.As(err, &le) || !strings.Contains(le.Message, `"alt" (2 connections)`) || len(le.Fields) != 1 || le.Fields[0].Field != "oauth_configs" {
		t.Fatalf("got %v, want a conflict naming config alt and its 2 connections in oauth_configs", err)
	}
	if got, _ := s.GetApp(ctx, "demo"); got.Revision != before.Revision {
		t.Fatalf("a refused PutApp changed the revision: got %d, want %d", got.Revision, before.Revision)
	}
	if _, err := s.GetConnection(ctx, alice); err != nil {
		t.Fatalf("a refused PutApp deleted a connection: %v", err)
	}
	// Dropping a config without connections needs no option.
	if _, err := s.PutApp(ctx, without(App("demo"), "github")); err != nil {
		t.Fatalf("PutApp dropping a config without connections: %v", err)
	}

	_, deleted, err := s.PutAppWith(ctx, without(App("demo"), "alt", "github"), store.PutAppOptions{DeleteConnections: true})
	if err != nil {
		t.Fatalf("PutAppWith DeleteConnections: %v", err)
	}
	if fmt.Sprint(deleted) != fmt.Sprint([]latchkey.ConnectionKey{alice, bob}) {
		t.Fatalf("got deleted %v, want %v", deleted, []latchkey.ConnectionKey{alice, bob})
	}
	for _, k := range []latchkey.ConnectionKey{alice, bob} {
		_, err := s.GetConnection(ctx, k)
		wantErr(t, "GetConnection of a dropped config", err, store.ErrNotFound)
	}
	if v, _ := s.UserValues(ctx, "demo", "acme", "alice"); v["alt_token"] != "" || v["access_token"] != "m1" {
		t.Fatalf("got alice's values %v, want the dropped config's gone and main's kept", keys(v))
	}
	if c, err := s.GetConnection(ctx, kept); err != nil || c.Values["access_token"] != "m1" {
		t.Fatalf("the connection of a kept config: got %v, want it kept", err)
	}
	_, err = s.GetLink(ctx, "link-of-alt", t0)
	wantErr(t, "GetLink of a dropped config", err, store.ErrNotFound)

	// A new connection of a config the document lacks would be stranded.
	_, err = s.PutConnection(ctx, conn(key("demo", "acme", "carol", "alt"), nil))
	wantErr(t, "PutConnection of a dropped config", err, store.ErrNotFound)
}

// testAppDroppingConfigsWhileConnecting races new connections of a config
// against saves that drop it: whatever the order, no connection of a config
// the stored document lacks is left.
func testAppDroppingConfigsWhileConnecting(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	for round := range 8 {
		if _, err := s.PutApp(ctx, App("demo")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.PutConnection(ctx, conn(key("demo", "acme", fmt.Sprintf("u%d-%d", round, i), "alt"), nil))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("PutConnection: %v", err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.PutAppWith(ctx, without(App("demo"), "alt"), store.PutAppOptions{DeleteConnections: round%2 == 0})
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Errorf("PutAppWith: %v", err)
			}
		}()
		wg.Wait()
		app, err := s.GetApp(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		conns, err := s.ListConnections(ctx, "demo", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			if _, ok := app.OAuthConfig(c.Config); !ok {
				t.Fatalf("round %d: connection %v is left without its config", round, c.ConnectionKey)
			}
		}
		// Start the next round from a document with alt and no connections.
		if _, _, err := s.PutAppWith(ctx, without(App("demo"), "alt"), store.PutAppOptions{DeleteConnections: true}); err != nil {
			t.Fatal(err)
		}
	}
}
