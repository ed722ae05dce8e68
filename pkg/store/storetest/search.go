package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// testConnectionSearch lists connections across apps as the builder UI's
// connections screen does: filters, a case-insensitive search of org and
// user that reads % and _ literally, and pages that together hold every
// match once.
func testConnectionSearch(t *testing.T, s store.Store) {
	mustPutApp(t, s, "crm")
	mustPutApp(t, s, "billing")
	var all []latchkey.ConnectionKey
	for _, app := range []string{"billing", "crm"} {
		for _, org := range []string{"Acme", "globex", "a_b", "axb"} {
			for u := 0; u < 3; u++ {
				k := latchkey.ConnectionKey{App: app, Org: org, User: fmt.Sprintf("user-%d", u), Config: Configs[0]}
				c := conn(k, map[string]string{"access_token": "at"})
				if u == 2 {
					c.Status = latchkey.StatusNeedsReauth
				}
				mustPutConn(t, s, c)
				all = append(all, k)
			}
		}
	}

	search := func(q store.ConnectionQuery) store.ConnectionPage {
		t.Helper()
		p, err := s.SearchConnections(ctx, q)
		if err != nil {
			t.Fatalf("SearchConnections(%+v): %v", q, err)
		}
		return p
	}
	if p := search(store.ConnectionQuery{App: "crm", Status: latchkey.StatusNeedsReauth}); p.Total != 4 || len(p.Connections) != 4 || p.Next != nil {
		t.Fatalf("crm's connections that need re-authorization: got %d of %d (next %v), want 4", len(p.Connections), p.Total, p.Next)
	}
	if p := search(store.ConnectionQuery{Search: "ACME"}); p.Total != 6 || p.Connections[0].Org != "Acme" || p.Connections[0].Values != nil {
		t.Fatalf("searching ACME: got %d %+v, want Acme's 6 connections, without values", p.Total, p.Connections)
	}
	if p := search(store.ConnectionQuery{Search: "a_b"}); p.Total != 6 {
		t.Fatalf("searching a_b: got %d, want 6 (the _ read literally, axb not matched)", p.Total)
	}
	if p := search(store.ConnectionQuery{Search: "user-1", Org: "globex"}); p.Total != 2 {
		t.Fatalf("globex's user-1: got %d, want 2", p.Total)
	}

	// Pages of 5 hold every connection once, in key order.
	var got []latchkey.ConnectionKey
	q := store.ConnectionQuery{Limit: 5}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the pages do not end")
		}
		p := search(q)
		if p.Total != len(all) {
			t.Fatalf("page %d: total %d, want %d", pages, p.Total, len(all))
		}
		for _, c := range p.Connections {
			got = append(got, c.ConnectionKey)
		}
		if p.Next == nil {
			break
		}
		q.After = p.Next
	}
	if len(got) != len(all) {
		t.Fatalf("the pages held %d connections, want %d", len(got), len(all))
	}
	// Each once (the order is the database's collation's, which the
	// cursor follows too).
	seen := map[latchkey.ConnectionKey]bool{}
	for _, k := range got {
		if seen[k] {
			t.Fatalf("the pages hold %v twice", k)
		}
		seen[k] = true
	}

	_, err := s.SearchConnections(ctx, store.ConnectionQuery{Limit: store.MaxConnectionPage + 1})
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EINVALID || len(le.Fields) != 1 || le.Fields[0].Field != "limit" {
		t.Fatalf("a page too large: got %v, want an invalid-input error naming limit", err)
	}
}
