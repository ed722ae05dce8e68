package storetest

import (
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
	page, _ := s.ListAudit(ctx, latchkey.AuditFilter{Before: crm[0].ID, Limit: 1})
	if len(page) != 1 || page[0].ID != crm[1].ID {
		t.Fatalf("paging: got %+v, want the event before %d", page, crm[0].ID)
	}
}
