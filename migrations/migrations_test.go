package migrations_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/latchkey/latchkey/migrations"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// Every migration's Down undoes its Up: a database migrated to the newest
// version is taken back to none, then up again, and the store works on it.
// A Down that fails, or leaves behind what the next Up creates, fails here.

func TestDownAndUpAgainSQLite(t *testing.T) {
	testDownAndUp(t, filepath.Join(t.TempDir(), "latchkey.db"), goose.DialectSQLite3, "sqlite")
}

func TestDownAndUpAgainPostgreSQL(t *testing.T) {
	testDownAndUp(t, storetest.PostgresURL(t), goose.DialectPostgres, "postgres")
}

func testDownAndUp(t *testing.T, url string, dialect goose.Dialect, dir string) {
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
	newest, err := provider.GetDBVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sources := provider.ListSources()
	if want := sources[len(sources)-1].Version; newest != want {
		t.Fatalf("after Open: got version %d, want %d", newest, want)
	}
	if _, err := provider.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	if v, err := provider.GetDBVersion(ctx); err != nil || v != 0 {
		t.Fatalf("after DownTo(0): got version %d (%v), want 0", v, err)
	}
	if s.DB().Migrator().HasTable("connections") {
		t.Fatal("after DownTo(0): got table connections, want none")
	}
	s.Close()

	s = open() // migrates up again
	defer s.Close()
	if _, err := s.PutApp(ctx, storetest.App("demo")); err != nil {
		t.Fatal(err)
	}
	k := latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "main"}
	if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: k, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "at-1"}}); err != nil {
		t.Fatalf("PutConnection after Down and Up: %v", err)
	}
	got, err := s.GetConnection(ctx, k)
	if err != nil || got.Values["access_token"] != "at-1" {
		t.Fatalf("GetConnection after Down and Up: got %q, %v, want at-1", got.Values["access_token"], err)
	}
}
