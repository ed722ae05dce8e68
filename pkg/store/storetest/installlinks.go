package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// testInstallLinks issues install links, lists them, installs through one
// (once, of concurrent takers), revokes another, and lets a third expire.
func testInstallLinks(t *testing.T, s store.Store) {
	mustPutApp(t, s, "crm")
	mustPutApp(t, s, "other")
	link := func(id, org string, created time.Time) store.InstallLink {
		return store.InstallLink{ID: id, App: "crm", Org: org, CreatedBy: "key-1", CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
	}
	for _, l := range []struct {
		token string
		link  store.InstallLink
	}{
		{"tok-a", link("il_a", "acme", t0)},
		{"tok-b", link("il_b", "acme", t0.Add(time.Second))},
		{"tok-c", link("il_c", "globex", t0.Add(2*time.Second))},
	} {
		if err := s.CreateInstallLink(ctx, l.token, l.link); err != nil {
			t.Fatalf("CreateInstallLink(%s): %v", l.link.ID, err)
		}
	}
	wantErr(t, "the same id again", s.CreateInstallLink(ctx, "tok-z", link("il_a", "acme", t0)), store.ErrConflict)
	wantErr(t, "a link of an unknown app", s.CreateInstallLink(ctx, "tok-y", store.InstallLink{ID: "il_y", App: "nosuch", Org: "acme", ExpiresAt: t0.Add(time.Hour)}), store.ErrNotFound)

	got, err := s.GetInstallLink(ctx, "crm", "tok-a", t0)
	if err != nil || got.ID != "il_a" || got.Org != "acme" || got.CreatedBy != "key-1" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) || got.State(t0) != store.InstallLinkPending {
		t.Fatalf("GetInstallLink: got %+v (err %v), want il_a for acme, pending", got, err)
	}
	_, err = s.GetInstallLink(ctx, "other", "tok-a", t0)
	wantErr(t, "the token under another app", err, store.ErrNotFound)
	_, err = s.GetInstallLink(ctx, "crm", "tok-unknown", t0)
	wantErr(t, "an unknown token", err, store.ErrNotFound)
	_, err = s.GetInstallLink(ctx, "crm", "tok-a", t0.Add(time.Hour))
	wantErr(t, "at its expiry", err, store.ErrExpired)

	all, err := s.ListInstallLinks(ctx, "crm", "")
	if err != nil || len(all) != 3 || all[0].ID != "il_c" || all[2].ID != "il_a" {
		t.Fatalf("ListInstallLinks: got %+v (err %v), want il_c, il_b, il_a", all, err)
	}
	if acme, _ := s.ListInstallLinks(ctx, "crm", "acme"); len(acme) != 2 {
		t.Fatalf("acme's links: got %+v, want 2", acme)
	}

	// Installing through a link of another org writes nothing.
	inst := latchkey.Installation{App: "crm", Org: "globex", Values: map[string]string{"client_id": "cid-1"}}
	if _, _, err := s.InstallThroughLink(ctx, "tok-a", t0, inst); err == nil {
		t.Fatal("installing globex through acme's link: got no error")
	}
	_, err = s.GetInstallation(ctx, "crm", "globex")
	wantErr(t, "globex after the refused install", err, store.ErrNotFound)

	// Of concurrent installs through one link, exactly one wins.
	inst.Org = "acme"
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, losses := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, saved, err := s.InstallThroughLink(ctx, "tok-a", t0.Add(time.Minute), inst)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && l.ID == "il_a" && l.UsedAt != nil && saved.Values["client_id"] == "cid-1":
				wins++
			case errors.Is(err, store.ErrNotFound):
				losses++
			default:
				t.Errorf("InstallThroughLink: got %+v %+v %v", l, saved, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || losses != 7 {
		t.Fatalf("concurrent installs: got %d wins and %d refusals, want 1 and 7", wins, losses)
	}
	stored, err := s.GetInstallation(ctx, "crm", "acme")
	if err != nil || stored.Values["client_id"] != "cid-1" {
		t.Fatalf("the installation: got %+v (err %v), want client_id cid-1", stored, err)
	}
	_, err = s.GetInstallLink(ctx, "crm", "tok-a", t0)
	wantErr(t, "a used link", err, store.ErrNotFound)
	_, err = s.RevokeInstallLink(ctx, "crm", "il_a", t0)
	wantErr(t, "revoking a used link", err, store.ErrConflict)

	// A revoked link installs nothing.
	_, err = s.RevokeInstallLink(ctx, "other", "il_b", t0)
	wantErr(t, "revoking another app's link", err, store.ErrNotFound)
	if l, err := s.RevokeInstallLink(ctx, "crm", "il_b", t0.Add(2*time.Minute)); err != nil || l.Org != "acme" || !l.RevokedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("RevokeInstallLink: got %+v (err %v), want il_b of acme revoked now", l, err)
	}
	if l, err := s.RevokeInstallLink(ctx, "crm", "il_b", t0.Add(3*time.Minute)); err != nil || !l.RevokedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("revoking it again: got %+v (err %v), want its first revocation kept", l, err)
	}
	_, _, err = s.InstallThroughLink(ctx, "tok-b", t0.Add(4*time.Minute), latchkey.Installation{App: "crm", Org: "acme", Values: map[string]string{"client_id": "evil"}})
	wantErr(t, "installing through a revoked link", err, store.ErrNotFound)

	// An expired link installs nothing either.
	_, _, err = s.InstallThroughLink(ctx, "tok-c", t0.Add(2*time.Hour), latchkey.Installation{App: "crm", Org: "globex", Values: map[string]string{"client_id": "late"}})
	wantErr(t, "installing through an expired link", err, store.ErrExpired)
	if stored, _ := s.GetInstallation(ctx, "crm", "acme"); stored.Values["client_id"] != "cid-1" {
		t.Fatalf("after refused installs: got client_id %q, want cid-1", stored.Values["client_id"])
	}

	all, _ = s.ListInstallLinks(ctx, "crm", "")
	states := map[string]string{}
	for _, l := range all {
		states[l.ID] = l.State(t0.Add(2 * time.Hour))
	}
	if states["il_a"] != store.InstallLinkUsed || states["il_b"] != store.InstallLinkRevoked || states["il_c"] != store.InstallLinkExpired {
		t.Fatalf("states: got %v, want il_a used, il_b revoked, il_c expired", states)
	}
	for _, l := range all {
		if l.ID == "il_b" && !l.RevokedAt.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("il_b: got revoked at %v, want the first revocation %v", l.RevokedAt, t0.Add(2*time.Minute))
		}
	}

	// Deleting the app deletes its links.
	if err := s.DeleteApp(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.ListInstallLinks(ctx, "crm", ""); len(left) != 0 {
		t.Fatalf("after deleting the app: got %+v, want no links", left)
	}
}
