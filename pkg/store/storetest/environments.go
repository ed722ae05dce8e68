package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// testIsolation puts the same app, org and user names in dev and prod and
// shows that every read, write, list, claim and delete of one environment
// stays in it.
func testIsolation(t *testing.T, root store.Store) {
	dev, prod := root.In(latchkey.EnvDev), root.In(latchkey.EnvProd)
	devApp := App("crm")
	devApp.Label = "CRM (test client)"
	if _, err := dev.PutApp(ctx, devApp); err != nil {
		t.Fatal(err)
	}
	prodApp := App("crm")
	prodApp.Label = "CRM"
	if _, err := prod.PutApp(ctx, prodApp); err != nil {
		t.Fatal(err)
	}
	for env, s := range map[string]store.Store{"dev": dev, "prod": prod} {
		if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "crm", Org: "acme", Values: map[string]string{"client_id": "id-" + env}}); err != nil {
			t.Fatal(err)
		}
		c := conn(key("crm", "acme", "ann", "main"), map[string]string{"access_token": "at-" + env, "refresh_token": "rt-" + env})
		c.ExpiresAt = t0.Add(time.Minute)
		mustPutConn(t, s, c)
		if err := s.CreateAPIKey(ctx, latchkey.APIKey{ID: "key-" + env, Scope: latchkey.ScopeAdmin, Hash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAudit(ctx, latchkey.AuditEvent{Actor: "cli", Action: "app.put", App: "crm", Detail: env}); err != nil {
			t.Fatal(err)
		}
	}
	for env, s := range map[string]store.Store{"dev": dev, "prod": prod} {
		app, err := s.GetApp(ctx, "crm")
		if want := map[string]string{"dev": "CRM (test client)", "prod": "CRM"}[env]; err != nil || app.Label != want {
			t.Fatalf("%s: GetApp: got %q (%v), want %q", env, app.Label, err, want)
		}
		apps, err := s.ListApps(ctx)
		if err != nil || len(apps) != 1 {
			t.Fatalf("%s: ListApps: got %d apps (%v), want 1", env, len(apps), err)
		}
		inst, err := s.GetInstallation(ctx, "crm", "acme")
		if err != nil || inst.Values["client_id"] != "id-"+env {
			t.Fatalf("%s: GetInstallation: got client_id %q (%v), want %q", env, inst.Values["client_id"], err, "id-"+env)
		}
		got, err := s.GetConnection(ctx, key("crm", "acme", "ann", "main"))
		if err != nil || got.Values["access_token"] != "at-"+env {
			t.Fatalf("%s: GetConnection: got the token of length %d (%v), want %s's", env, len(got.Values["access_token"]), err, env)
		}
		uv, err := s.UserValues(ctx, "crm", "acme", "ann")
		if err != nil || uv["refresh_token"] != "rt-"+env {
			t.Fatalf("%s: UserValues: got %s (%v)", env, keys(uv), err)
		}
		conns, err := s.ListConnections(ctx, "crm", "")
		if err != nil || len(conns) != 1 {
			t.Fatalf("%s: ListConnections: got %d (%v), want 1", env, len(conns), err)
		}
		ks, err := s.ListAPIKeys(ctx)
		if err != nil || len(ks) != 1 || ks[0].ID != "key-"+env || ks[0].Env != latchkey.Environment(env) {
			t.Fatalf("%s: ListAPIKeys: got %+v (%v), want only key-%s", env, ks, err, env)
		}
		events, err := s.ListAudit(ctx, latchkey.AuditFilter{App: "crm"})
		if err != nil || len(events) != 1 || events[0].Detail != env {
			t.Fatalf("%s: ListAudit: got %+v (%v), want only %s's event", env, events, err, env)
		}
	}
	// An API key of one environment is not revoked, nor listed, from the
	// other; looked up by id without an environment it says its own.
	wantErr(t, "prod revoking dev's key", prod.RevokeAPIKey(ctx, "key-dev", t0), store.ErrNotFound)
	if k, err := root.GetAPIKey(ctx, "key-prod"); err != nil || k.Env != latchkey.EnvProd {
		t.Fatalf("GetAPIKey(key-prod) on the root: got %+v (%v), want environment prod", k, err)
	}
	if _, err := dev.GetAPIKey(ctx, "key-prod"); err == nil {
		t.Fatal("dev's GetAPIKey(key-prod): got the key, want ErrNotFound")
	}

	// A claim in dev leases only dev's connection; prod's is still due.
	claimed, _, err := dev.ClaimRefreshes(ctx, t0, t0.Add(time.Hour), 10, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].Conn.Values["access_token"] != "at-dev" {
		t.Fatalf("dev's claim: got %d (%v), want dev's one connection", len(claimed), err)
	}
	claimed, _, err = prod.ClaimRefreshes(ctx, t0, t0.Add(time.Hour), 10, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].Conn.Values["access_token"] != "at-prod" {
		t.Fatalf("prod's claim: got %d (%v), want prod's one connection", len(claimed), err)
	}

	// Links and states say their environment when looked up by token.
	if err := prod.CreateLink(ctx, "tok-prod", latchkey.Link{ConnectionKey: key("crm", "acme", "ann", "main"), ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if l, err := root.GetLink(ctx, "tok-prod", t0); err != nil || l.Env != latchkey.EnvProd {
		t.Fatalf("GetLink on the root: got %+v (%v), want environment prod", l, err)
	}
	if _, err := dev.TakeLink(ctx, "tok-prod", t0); err == nil {
		t.Fatal("dev took prod's link")
	}
	if err := prod.CreateState(ctx, "st-prod", latchkey.AuthState{ConnectionKey: key("crm", "acme", "ann", "main"), CodeVerifier: "v", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.TakeState(ctx, "st-prod", t0); err == nil {
		t.Fatal("dev took prod's state")
	}
	if st, err := root.TakeState(ctx, "st-prod", t0); err != nil || st.Env != latchkey.EnvProd || st.CodeVerifier != "v" {
		t.Fatalf("TakeState on the root: got %+v (%v), want prod's state", st, err)
	}

	// Deletes stay in their environment.
	if err := dev.DeleteConnection(ctx, key("crm", "acme", "ann", "main")); err != nil {
		t.Fatal(err)
	}
	if _, err := prod.GetConnection(ctx, key("crm", "acme", "ann", "main")); err != nil {
		t.Fatalf("prod's connection after dev's delete: %v", err)
	}
	if err := dev.DeleteApp(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := prod.GetInstallation(ctx, "crm", "acme"); err != nil {
		t.Fatalf("prod's installation after dev's app delete: %v", err)
	}
	wantErr(t, "dev's app after its delete", func() error { _, err := dev.GetApp(ctx, "crm"); return err }(), store.ErrNotFound)
}

// testEnvironments covers creating, listing and deleting environments.
func testEnvironments(t *testing.T, s store.Store) {
	envs, err := s.ListEnvironments(ctx)
	if err != nil || len(envs) != 2 || envs[0].Name != latchkey.EnvDev || envs[1].Name != latchkey.EnvProd {
		t.Fatalf("ListEnvironments of a fresh store: got %+v (%v), want dev and prod", envs, err)
	}
	if _, err := s.PutEnvironment(ctx, latchkey.EnvironmentInfo{Name: "Bad Name"}); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Fatalf("PutEnvironment(Bad Name): got %v, want EINVALID", err)
	}
	info, err := s.PutEnvironment(ctx, latchkey.EnvironmentInfo{Name: "staging", PublicURL: "https://staging.example.com"})
	if err != nil || info.PublicURL != "https://staging.example.com" {
		t.Fatalf("PutEnvironment(staging): got %+v (%v)", info, err)
	}
	staging := s.In("staging")
	mustPutApp(t, staging, "crm")
	mustPutConn(t, staging, conn(key("crm", "acme", "ann", "main"), map[string]string{"access_token": "at"}))
	err = s.DeleteEnvironment(ctx, "staging", false)
	wantErr(t, "deleting staging with an app and a connection", err, store.ErrConflict)
	if _, err := staging.GetConnection(ctx, key("crm", "acme", "ann", "main")); err != nil {
		t.Fatalf("the connection after a refused delete: %v", err)
	}
	if err := s.DeleteEnvironment(ctx, "staging", true); err != nil {
		t.Fatalf("forced DeleteEnvironment(staging): %v", err)
	}
	wantErr(t, "staging's app after its environment's delete", func() error { _, err := staging.GetApp(ctx, "crm"); return err }(), store.ErrNotFound)
	wantErr(t, "deleting staging again", s.DeleteEnvironment(ctx, "staging", true), store.ErrNotFound)
}
