package migrations_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/latchkey/latchkey/migrations"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// Migration 00016 places the rows of a database from before environments
// in dev, where their sealed values still open, and leaves prod empty. The
// database is filled at version 00013 with the statements of that schema
// (an app, its installation, a connection with sealed values, an API key,
// an audit event), sealed as the store of that schema sealed them.

func TestEnvironmentsMigrationSQLite(t *testing.T) {
	testEnvironmentsMigration(t, filepath.Join(t.TempDir(), "latchkey.db"), goose.DialectSQLite3, "sqlite")
}

func TestEnvironmentsMigrationPostgreSQL(t *testing.T) {
	testEnvironmentsMigration(t, storetest.PostgresURL(t), goose.DialectPostgres, "postgres")
}

func testEnvironmentsMigration(t *testing.T, url string, dialect goose.Dialect, dir string) {
	ctx := context.Background()
	key, err := secretbox.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *sqlstore.Store {
		t.Helper()
		s, err := sqlstore.Open(ctx, sqlstore.Config{URL: url, Keyring: ring, ConnectionCacheSize: -1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	s := open()
	sqlDB, err := s.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(dialect, sqlDB, sub, goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.DownTo(ctx, 13); err != nil {
		t.Fatalf("DownTo(13): %v", err)
	}
	if s.DB().Migrator().HasTable("environments") {
		t.Fatal("at version 13: got table environments, want none")
	}
	// The previous schema's rows, sealed with associated data that names
	// no environment, as that schema's store sealed them.
	seal := func(plain string, parts ...string) string {
		t.Helper()
		ad := `["` + parts[0]
		for _, p := range parts[1:] {
			ad += `","` + p
		}
		ad += `"]`
		ct, err := ring.Encrypt([]byte(plain), []byte(ad))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	doc := `{"name":"crm","label":"CRM","settings":[{"name":"client_id","level":"org"},{"name":"access_token","level":"user","secret":true}],` +
		`"oauth_configs":[{"name":"main","access_token_variable_name":"access_token"}]}`
	now := time.Now().UTC()
	db := s.DB()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO apps (name, document, revision, created_at, updated_at) VALUES (?, ?, 3, ?, ?)", []any{"crm", seal(doc, "app", "crm"), now, now}},
		{"INSERT INTO installations (app, org, updated_at) VALUES ('crm', 'acme', ?)", []any{now}},
		{"INSERT INTO setting_values (app, org, user_id, name, value, config, updated_at) VALUES ('crm', 'acme', '', 'client_id', ?, '', ?)",
			[]any{seal("the-client-id", "value", "crm", "acme", "", "client_id"), now}},
		{"INSERT INTO connections (app, org, user_id, config, status, version, created_at, updated_at) VALUES ('crm', 'acme', 'ann', 'main', 'active', 7, ?, ?)", []any{now, now}},
		{"INSERT INTO setting_values (app, org, user_id, name, value, config, updated_at) VALUES ('crm', 'acme', 'ann', 'access_token', ?, 'main', ?)",
			[]any{seal("ann-token", "value", "crm", "acme", "ann", "access_token"), now}},
		{"INSERT INTO api_keys (id, name, scope, app, hash, created_at) VALUES ('k1', 'old key', 'admin', '', ?, ?)", []any{[]byte("hash"), now}},
		{"INSERT INTO audit_events (at, actor, action, app) VALUES (?, 'cli', 'app.put', 'crm')", []any{now}},
	} {
		if err := db.Exec(q.sql, q.args...).Error; err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	s.Close()

	s = open() // applies 00016
	defer s.Close()
	db = s.DB()
	if sqlDB, err = db.DB(); err != nil {
		t.Fatal(err)
	}
	if provider, err = goose.NewProvider(dialect, sqlDB, sub, goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true)); err != nil {
		t.Fatal(err)
	}
	dev, prod := s.In(latchkey.EnvDev), s.In(latchkey.EnvProd)
	app, err := dev.GetApp(ctx, "crm")
	if err != nil || app.Label != "CRM" || app.Revision != 3 {
		t.Fatalf("dev's app after the migration: got %+v, %v", app, err)
	}
	inst, err := dev.GetInstallation(ctx, "crm", "acme")
	if err != nil || inst.Values["client_id"] != "the-client-id" {
		t.Fatalf("dev's installation after the migration: %v", err)
	}
	conn, err := dev.GetConnection(ctx, latchkey.ConnectionKey{App: "crm", Org: "acme", User: "ann", Config: "main"})
	if err != nil || conn.Values["access_token"] != "ann-token" || conn.Version != 7 {
		t.Fatalf("dev's connection after the migration: version %d, %v", conn.Version, err)
	}
	if k, err := s.GetAPIKey(ctx, "k1"); err != nil || k.Env != latchkey.EnvDev {
		t.Fatalf("the API key after the migration: got %+v, %v, want it in dev", k, err)
	}
	if events, err := dev.ListAudit(ctx, latchkey.AuditFilter{}); err != nil || len(events) != 1 {
		t.Fatalf("dev's audit after the migration: got %d events, %v", len(events), err)
	}
	if apps, err := prod.ListApps(ctx); err != nil || len(apps) != 0 {
		t.Fatalf("prod's apps after the migration: got %d, %v, want none", len(apps), err)
	}
	envs, err := s.ListEnvironments(ctx)
	if err != nil || len(envs) != 2 {
		t.Fatalf("environments after the migration: got %+v, %v, want dev and prod", envs, err)
	}
	// Down keeps dev's rows in the flat schema, and Up again finds them.
	if _, err := prod.PutApp(ctx, storetest.App("crm")); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.DownTo(ctx, 13); err != nil {
		t.Fatalf("DownTo(13) with rows in dev and prod: %v", err)
	}
	var n int64
	if err := db.Raw("SELECT count(*) FROM apps").Scan(&n).Error; err != nil || n != 1 {
		t.Fatalf("apps at version 13 after Down: got %d, %v, want dev's one", n, err)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("Up again: %v", err)
	}
	if conn, err := dev.GetConnection(ctx, latchkey.ConnectionKey{App: "crm", Org: "acme", User: "ann", Config: "main"}); err != nil || conn.Values["access_token"] != "ann-token" {
		t.Fatalf("dev's connection after Down and Up: %v", err)
	}
}
