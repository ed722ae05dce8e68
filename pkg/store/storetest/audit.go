package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

func testAuditLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	events := []latchkey.AuditEvent{
		{Time: at, Actor: "k1", Action: latchkey.AuditAppPut, App: "crm", Detail: "revision 1"},
		{Time: at.Add(time.Second), Actor: "k1", Action: latchkey.AuditInstallationPut, App: "crm", Org: "acme", Detail: "client_id, client_secret"},
		{Time: at.Add(2 * time.Second), Actor: "k2", Action: latchkey.AuditTokenRead, App: "crm", Org: "acme", User: "alice", Config: "p"},
		{Time: at.Add(3 * time.Second), Actor: "k1", Action: latchkey.AuditAppPut, App: "other"},
	}
	if err := s.AppendAudit(ctx, events[:2]...); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, events[2:]...); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAudit(ctx, latchkey.AuditFilter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("got %d events (err %v), want 4", len(all), err)
	}
	if all[0].App != "other" || all[0].ID <= all[1].ID {
		t.Fatalf("got first %+v, want the newest first", all[0])
	}
	crm, _ := s.ListAudit(ctx, latchkey.AuditFilter{App: "crm"})
	if len(crm) != 3 {
		t.Fatalf("app filter: got %d, want 3", len(crm))
	}
	reads, _ := s.ListAudit(ctx, latchkey.AuditFilter{App: "crm", Action: latchkey.AuditTokenRead})
	if len(reads) != 1 || reads[0].Actor != "k2" || reads[0].User != "alice" || !reads[0].Time.Equal(at.Add(2*time.Second)) {
		t.Fatalf("action filter: got %+v, want k2's read of alice's token", reads)
	}
	alice, _ := s.ListAudit(ctx, latchkey.AuditFilter{Connection: &latchkey.ConnectionKey{App: "crm", Org: "acme", User: "alice", Config: "p"}})
	if len(alice) != 1 || alice[0].Action != latchkey.AuditTokenRead {
		t.Fatalf("connection filter: got %+v, want the read of alice's token", alice)
	}
	if bob, _ := s.ListAudit(ctx, latchkey.AuditFilter{Connection: &latchkey.ConnectionKey{App: "crm", Org: "acme", User: "bob", Config: "p"}}); len(bob) != 0 {
		t.Fatalf("another connection's events: got %+v, want none", bob)
	}
	page, _ := s.ListAudit(ctx, latchkey.AuditFilter{Before: crm[0].ID, Limit: 1})
	if len(page) != 1 || page[0].ID != crm[1].ID {
		t.Fatalf("paging: got %+v, want the event before %d", page, crm[0].ID)
	}
	testAuditFilters(t, s, all)
	testAuditLargeBatch(t, s)
}

// testAuditFilters filters the four events of testAuditLog (all, newest
// first) by actor and by org, alone, together, with the app and the
// action, and pages through one actor's events.
func testAuditFilters(t *testing.T, s store.Store, all []latchkey.AuditEvent) {
	ctx := t.Context()
	ids := func(events []latchkey.AuditEvent) []int64 {
		out := []int64{}
		for _, e := range events {
			out = append(out, e.ID)
		}
		return out
	}
	// all: [0] k1 app.put other, [1] k2 token.read crm acme, [2] k1 installation.put crm acme, [3] k1 app.put crm.
	for _, tc := range []struct {
		name   string
		filter latchkey.AuditFilter
		want   []latchkey.AuditEvent
	}{
		{"actor k1", latchkey.AuditFilter{Actor: "k1"}, []latchkey.AuditEvent{all[0], all[2], all[3]}},
		{"actor k2", latchkey.AuditFilter{Actor: "k2"}, []latchkey.AuditEvent{all[1]}},
		{"an actor with no event", latchkey.AuditFilter{Actor: "k3"}, nil},
		{"an actor is matched exactly", latchkey.AuditFilter{Actor: "k"}, nil},
		{"org acme", latchkey.AuditFilter{Org: "acme"}, []latchkey.AuditEvent{all[1], all[2]}},
		{"an org with no event", latchkey.AuditFilter{Org: "beta"}, nil},
		{"actor k1 in org acme", latchkey.AuditFilter{Actor: "k1", Org: "acme"}, []latchkey.AuditEvent{all[2]}},
		{"actor k1 on app crm", latchkey.AuditFilter{Actor: "k1", App: "crm"}, []latchkey.AuditEvent{all[2], all[3]}},
		{"actor k1, action app.put", latchkey.AuditFilter{Actor: "k1", Action: latchkey.AuditAppPut}, []latchkey.AuditEvent{all[0], all[3]}},
		{"actor k1, a page of 2", latchkey.AuditFilter{Actor: "k1", Limit: 2}, []latchkey.AuditEvent{all[0], all[2]}},
		{"actor k1, the page after", latchkey.AuditFilter{Actor: "k1", Before: all[2].ID, Limit: 2}, []latchkey.AuditEvent{all[3]}},
	} {
		got, err := s.ListAudit(ctx, tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if g, w := ids(got), ids(tc.want); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: got events %v, want %v", tc.name, g, w)
		}
	}
}

// testAuditLargeBatch appends more events at once than one INSERT carries
// and reads every field of them back.
func testAuditLargeBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 24, 9, 0, 0, 123456000, time.UTC)
	events := make([]latchkey.AuditEvent, 450)
	for i := range events {
		events[i] = latchkey.AuditEvent{Time: at.Add(time.Duration(i) * time.Millisecond), Actor: "bulk", Action: latchkey.AuditProxyCall,
			App: "bulk", Org: "acme", User: fmt.Sprintf("u%03d", i), Config: "p", Detail: fmt.Sprintf("GET /items → %d", 200+i%3)}
	}
	if err := s.AppendAudit(ctx, events...); err != nil {
		t.Fatal(err)
	}
	var got []latchkey.AuditEvent
	for before := int64(0); ; {
		page, err := s.ListAudit(ctx, latchkey.AuditFilter{App: "bulk", Before: before, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		before = page[len(page)-1].ID
	}
	if len(got) != len(events) {
		t.Fatalf("got %d events back, want %d", len(got), len(events))
	}
	for i, e := range got {
		want := events[len(events)-1-i]
		if e.User != want.User || e.Detail != want.Detail || e.Actor != want.Actor || e.Action != want.Action ||
			e.Org != want.Org || e.Config != want.Config || !e.Time.Equal(want.Time) || e.Env == "" {
			t.Fatalf("event %d: got %+v, want %+v", i, e, want)
		}
	}
}
