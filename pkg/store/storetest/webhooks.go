package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/store"
)

func testWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPutApp(t, s, "crm")
	mustPutApp(t, s, "other")
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	w := store.Webhook{ID: "wh_1", App: "crm", URL: "https://example.com/hook", Events: []string{"connection.created", "connection.deleted"},
		Secret: "whsec_never-in-plain-text", CreatedAt: at}
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, w); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("creating it twice: got %v, want ErrConflict", err)
	}
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh_x", App: "nosuch", URL: "https://example.com", Secret: "s"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("webhook of an unknown app: got %v, want ErrNotFound", err)
	}
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh_2", App: "other", URL: "https://example.org/hook", Secret: "s2", CreatedAt: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWebhook(ctx, "crm", "wh_1")
	if err != nil || got.Secret != w.Secret || got.URL != w.URL || len(got.Events) != 2 || !got.CreatedAt.Equal(at) {
		t.Fatalf("got %+v (err %v), want %+v", got, err, w)
	}
	if _, err := s.GetWebhook(ctx, "other", "wh_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another app's webhook: got %v, want ErrNotFound", err)
	}
	if all, _ := s.ListWebhooks(ctx, ""); len(all) != 2 || all[0].ID != "wh_1" {
		t.Fatalf("all webhooks: got %+v, want wh_1 then wh_2", all)
	}
	if crm, _ := s.ListWebhooks(ctx, "crm"); len(crm) != 1 || crm[0].Secret != w.Secret {
		t.Fatalf("crm's webhooks: got %+v, want wh_1 with its secret", crm)
	}
	if o, _ := s.GetWebhook(ctx, "other", "wh_2"); len(o.Events) != 0 || !o.Wants("connection.refreshed") {
		t.Fatalf("webhook with no filter: got events %v, want none (all wanted)", o.Events)
	}

	// Deliveries: claimed once per lease, attempts logged, retried, done.
	ds := []store.WebhookDelivery{
		{WebhookID: "wh_1", App: "crm", EventID: "evt_1", EventType: "connection.created", Payload: []byte(`{"id":"evt_1"}`), CreatedAt: at},
		{WebhookID: "wh_1", App: "crm", EventID: "evt_2", EventType: "connection.deleted", Payload: []byte(`{"id":"evt_2"}`), CreatedAt: at, NextAttemptAt: at.Add(time.Hour)},
		{WebhookID: "wh_2", App: "other", EventID: "evt_3", EventType: "connection.created", Payload: []byte(`{"id":"evt_3"}`), CreatedAt: at},
	}
	if err := s.CreateDeliveries(ctx, ds...); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimDeliveries(ctx, at, 10, time.Minute)
	if err != nil || len(claimed) != 2 || claimed[0].EventID != "evt_1" || string(claimed[0].Payload) != `{"id":"evt_1"}` || claimed[1].EventID != "evt_3" {
		t.Fatalf("claim: got %+v (err %v), want evt_1 and evt_3 with payloads", claimed, err)
	}
	if again, _ := s.ClaimDeliveries(ctx, at, 10, time.Minute); len(again) != 0 {
		t.Fatalf("during the lease: got %+v, want nothing", again)
	}
	id := claimed[0].ID
	if err := s.RecordAttempt(ctx, id, store.WebhookAttempt{At: at, StatusCode: 500, DurationMS: 3}, store.DeliveryPending, at.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if early, _ := s.ClaimDeliveries(ctx, at.Add(time.Second), 10, time.Minute); len(early) != 0 {
		t.Fatalf("before the retry: got %+v, want nothing", early)
	}
	retry, _ := s.ClaimDeliveries(ctx, at.Add(2*time.Second), 10, time.Minute)
	if len(retry) != 1 || retry[0].ID != id || retry[0].AttemptCount != 1 {
		t.Fatalf("retry: got %+v, want delivery %d after 1 attempt", retry, id)
	}
	if err := s.RecordAttempt(ctx, id, store.WebhookAttempt{At: at.Add(2 * time.Second), StatusCode: 204}, store.DeliveryDelivered, time.Time{}); err != nil {
		t.Fatal(err)
	}
	log, err := s.ListDeliveries(ctx, "crm", "wh_1", 0)
	if err != nil || len(log) != 2 || log[1].ID != id {
		t.Fatalf("log: got %+v (err %v), want 2 deliveries, newest first", log, err)
	}
	d := log[1]
	if d.State != store.DeliveryDelivered || d.AttemptCount != 2 || len(d.Attempts) != 2 ||
		d.Attempts[0].StatusCode != 500 || d.Attempts[1].StatusCode != 204 || !d.Attempts[1].At.Equal(at.Add(2*time.Second)) {
		t.Fatalf("delivery: got %+v, want delivered after a 500 and a 204", d)
	}
	later, _ := s.ClaimDeliveries(ctx, at.Add(2*time.Hour), 10, time.Minute)
	if len(later) != 2 || later[0].EventID != "evt_2" || later[1].EventID != "evt_3" {
		t.Fatalf("later: got %+v, want evt_2 and evt_3 (whose lease ended), not the delivered evt_1", later)
	}

	// Finished deliveries are pruned once old enough; pending ones stay.
	if err := s.RecordAttempt(ctx, later[1].ID, store.WebhookAttempt{At: at.Add(2 * time.Hour), Error: "connection refused"}, store.DeliveryFailed, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneDeliveries(ctx, at); err != nil || n != 0 {
		t.Fatalf("prune before anything was created: got %d (%v), want 0", n, err)
	}
	if n, err := s.PruneDeliveries(ctx, at.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("prune: got %d (%v), want the delivered evt_1 and the failed evt_3", n, err)
	}
	if log, _ := s.ListDeliveries(ctx, "crm", "wh_1", 0); len(log) != 1 || log[0].EventID != "evt_2" || len(log[0].Attempts) != 0 {
		t.Fatalf("after pruning: got %+v, want the pending evt_2 only", log)
	}
	if log, _ := s.ListDeliveries(ctx, "other", "wh_2", 0); len(log) != 0 {
		t.Fatalf("after pruning: got %+v, want none for wh_2", log)
	}

	if err := s.DeleteWebhook(ctx, "crm", "wh_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, "crm", "wh_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting it twice: got %v, want ErrNotFound", err)
	}
	if log, _ := s.ListDeliveries(ctx, "crm", "wh_1", 0); len(log) != 0 {
		t.Fatalf("deliveries of a deleted webhook: got %d, want 0", len(log))
	}
	if err := s.DeleteApp(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ListWebhooks(ctx, ""); len(all) != 0 {
		t.Fatalf("after deleting the app: got %+v, want no webhooks", all)
	}
}
