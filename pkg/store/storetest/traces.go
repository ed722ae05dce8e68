package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// traceID returns a fresh trace id: ids are unique across environments,
// and the suite runs each case in two on one store.
func traceID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "trc_" + hex.EncodeToString(b)
}

func aTrace(k latchkey.ConnectionKey, kind latchkey.TraceKind, at time.Time) latchkey.Trace {
	return latchkey.Trace{ID: traceID(), ConnectionKey: k, Kind: kind, StartedAt: at, DurationMS: 12.5, OK: true, Status: 200,
		Steps: []latchkey.TraceStep{{Name: "token exchange", StartedAt: at, Method: "POST", URL: "https://p.example/token",
			Request: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, RequestBody: "code=••••••",
			Status: 200, ResponseBody: `{"access_token": "••••••"}`}}}
}

// testTraces: a connection's traces are listed newest first without their
// steps, read whole by id within their app only, cut to the newest 50, and
// deleted with the connection.
func testTraces(t *testing.T, s store.Store) {
	mustPutApp(t, s, "crm")
	mustPutApp(t, s, "other")
	ann := key("crm", "acme", "ann", "main")
	mustPutConn(t, s, conn(ann, map[string]string{"access_token": "at"}))
	first, second := aTrace(ann, latchkey.TraceAuthorization, t0), aTrace(ann, latchkey.TraceRefresh, t0.Add(time.Minute))
	second.OK, second.Error, second.Status = false, "the provider refused the refresh (invalid_grant)", 400
	if err := s.AppendTraces(ctx, first, second); err != nil {
		t.Fatalf("AppendTraces: %v", err)
	}
	list, err := s.ListTraces(ctx, ann, 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTraces: got %d (%v), want 2", len(list), err)
	}
	if list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("ListTraces order: got %s, %s, want the refresh first", list[0].ID, list[1].ID)
	}
	if got := list[0]; got.OK || got.Error != second.Error || got.Status != 400 || got.StepCount != 1 || got.Steps != nil ||
		got.Kind != latchkey.TraceRefresh || !got.StartedAt.Equal(second.StartedAt) || got.ConnectionKey != ann {
		t.Fatalf("listed trace: got %+v", got)
	}
	full, err := s.GetTrace(ctx, "crm", first.ID)
	if err != nil {
		t.Fatalf("GetTrace: %v", err)
	}
	if len(full.Steps) != 1 || full.Steps[0].RequestBody != "code=••••••" || full.Steps[0].Request["Content-Type"] == "" ||
		full.Steps[0].ResponseBody != first.Steps[0].ResponseBody {
		t.Fatalf("GetTrace steps: got %+v", full.Steps)
	}
	_, err = s.GetTrace(ctx, "other", first.ID)
	wantErr(t, "another app's trace", err, store.ErrNotFound)
	_, err = s.GetTrace(ctx, "crm", "trc_nope")
	wantErr(t, "an unknown trace", err, store.ErrNotFound)

	// A connection keeps its newest KeepTraces; another connection's
	// traces are not touched.
	bob := key("crm", "acme", "bob", "main")
	mustPutConn(t, s, conn(bob, map[string]string{"access_token": "bt"}))
	if err := s.AppendTraces(ctx, aTrace(bob, latchkey.TraceProxy, t0)); err != nil {
		t.Fatal(err)
	}
	var many []latchkey.Trace
	for i := range latchkey.KeepTraces + 5 {
		many = append(many, aTrace(ann, latchkey.TraceAPI, t0.Add(time.Duration(i+2)*time.Minute)))
	}
	if err := s.AppendTraces(ctx, many[:10]...); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTraces(ctx, many[10:]...); err != nil {
		t.Fatal(err)
	}
	list, err = s.ListTraces(ctx, ann, 0)
	if err != nil || len(list) != latchkey.KeepTraces {
		t.Fatalf("after %d more traces: got %d (%v), want the newest %d", len(many), len(list), err, latchkey.KeepTraces)
	}
	if list[0].ID != many[len(many)-1].ID || list[len(list)-1].ID != many[len(many)-latchkey.KeepTraces].ID {
		t.Fatalf("kept traces: got %s … %s, want the newest", list[0].ID, list[len(list)-1].ID)
	}
	if list, _ := s.ListTraces(ctx, ann, 3); len(list) != 3 {
		t.Fatalf("ListTraces with limit 3: got %d", len(list))
	}
	if list, _ := s.ListTraces(ctx, bob, 0); len(list) != 1 {
		t.Fatalf("bob's traces after ann's: got %d, want 1", len(list))
	}

	// A trace without a connection key is refused whole.
	bad := aTrace(latchkey.ConnectionKey{App: "crm"}, latchkey.TraceAPI, t0)
	if err := s.AppendTraces(ctx, aTrace(bob, latchkey.TraceAPI, t0), bad); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Fatalf("AppendTraces with a keyless trace: got %v, want EINVALID", err)
	}
	if list, _ := s.ListTraces(ctx, bob, 0); len(list) != 1 {
		t.Fatalf("bob's traces after a refused batch: got %d, want 1 (nothing written)", len(list))
	}

	// An app's traces: every connection's, newest first, filtered, paged;
	// another app's are not among them.
	ghost := key("crm", "beta", "never-connected", "main")
	failedAuth := aTrace(ghost, latchkey.TraceAuthorization, t0.Add(time.Hour))
	failedAuth.OK, failedAuth.Error = false, "Example did not grant access (provider error: access_denied)"
	otherApp := aTrace(key("other", "acme", "ann", "main"), latchkey.TraceAPI, t0.Add(2*time.Hour))
	if err := s.AppendTraces(ctx, failedAuth, otherApp); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{})
	if err != nil || len(all) != latchkey.KeepTraces+2 || all[0].ID != failedAuth.ID || all[0].Steps != nil {
		t.Fatalf("ListAppTraces(crm): got %d (%v), want ann's %d, bob's and the failed authorization first", len(all), err, latchkey.KeepTraces)
	}
	for _, tr := range all {
		if tr.App != "crm" {
			t.Fatalf("ListAppTraces(crm) lists a trace of %s", tr.App)
		}
	}
	if got, _ := s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{Failed: true}); len(got) != 1 || got[0].ID != failedAuth.ID {
		t.Fatalf("crm's failed traces: got %+v, want the failed authorization", got)
	}
	if got, _ := s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{Kind: latchkey.TraceProxy}); len(got) != 1 || got[0].User != "bob" {
		t.Fatalf("crm's proxied calls: got %+v, want bob's one", got)
	}
	if got, _ := s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{Org: "beta"}); len(got) != 1 || got[0].Org != "beta" {
		t.Fatalf("crm's traces in beta: got %+v", got)
	}
	page, _ := s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{Limit: 10})
	next, _ := s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{Limit: 10, Before: page[9].ID})
	if len(page) != 10 || len(next) != 10 || next[0].ID != all[10].ID {
		t.Fatalf("paging: got %d then %d, the second page starting at %s, want %s", len(page), len(next), next[0].ID, all[10].ID)
	}
	_, err = s.ListAppTraces(ctx, "crm", latchkey.TraceFilter{Before: otherApp.ID})
	wantField(t, "paging from another app's trace", err, "before")

	// The sweep deletes what started before its time, of every connection.
	if n, err := s.PruneTraces(ctx, t0.Add(30*time.Second)); err != nil || n != 1 {
		t.Fatalf("PruneTraces before t0+30s: got %d (%v), want bob's one trace of t0 (ann's are later, or cut already)", n, err)
	}
	if list, _ := s.ListTraces(ctx, ann, 0); len(list) != latchkey.KeepTraces {
		t.Fatalf("ann's traces after the prune: got %d, want %d (all later)", len(list), latchkey.KeepTraces)
	}
	if list, _ := s.ListTraces(ctx, bob, 0); len(list) != 0 {
		t.Fatalf("bob's traces after the prune: got %d, want none", len(list))
	}

	if err := s.DeleteConnection(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListTraces(ctx, ann, 0); len(list) != 0 {
		t.Fatalf("traces after the connection's delete: got %d, want none", len(list))
	}
	if err := s.DeleteApp(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListTraces(ctx, bob, 0); len(list) != 0 {
		t.Fatalf("traces after the app's delete: got %d, want none", len(list))
	}
}
