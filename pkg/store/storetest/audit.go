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
	testAuditLargeBatch(t, s)
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
