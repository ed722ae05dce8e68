package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// TestTheSweepDeletesExpiredLinksAndOldTraces: a running server deletes,
// on its own, a link once it has expired and a trace once it is past the
// retention, while a fresh trace stays.
func TestTheSweepDeletesExpiredLinksAndOldTraces(t *testing.T) {
	h := startLatchkey(t, func(c *Config) { c.SweepInterval = 20 * time.Millisecond })
	seedCapacity(t, h)
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/users/u1/connections/example/link", testAdminKey, "", ""))
	u := link["url"].(string)
	token := u[strings.LastIndex(u, "/")+1:]
	ctx := latchkey.WithEnvironment(context.Background(), latchkey.EnvDev)
	dev := h.main.Store().In(latchkey.EnvDev)
	if _, err := dev.GetLink(ctx, token, h.clock.Now()); err != nil {
		t.Fatalf("the new link: %v", err)
	}
	key := latchkey.ConnectionKey{App: "capacity", Org: "acme", User: "u1", Config: "example"}
	old := latchkey.Trace{ID: "trc_old", ConnectionKey: key, Kind: latchkey.TraceRefresh, StartedAt: h.clock.Now().Add(-latchkey.TraceRetention - time.Hour)}
	fresh := latchkey.Trace{ID: "trc_fresh", ConnectionKey: key, Kind: latchkey.TraceRefresh, StartedAt: h.clock.Now().Add(-time.Hour)}
	if err := dev.AppendTraces(ctx, old, fresh); err != nil {
		t.Fatal(err)
	}

	h.clock.Advance(11 * time.Minute) // past the link's 10 minutes
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, linkErr := dev.GetLink(ctx, token, h.clock.Now())
		_, oldErr := dev.GetTrace(ctx, "capacity", "trc_old")
		if errors.Is(linkErr, store.ErrNotFound) && errors.Is(oldErr, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the link expired: reading it gives %v, the old trace %v; want both deleted by the sweep", linkErr, oldErr)
		}
	}
	if _, err := dev.GetTrace(ctx, "capacity", "trc_fresh"); err != nil {
		t.Fatalf("the fresh trace after the sweep: %v, want it kept", err)
	}
}
