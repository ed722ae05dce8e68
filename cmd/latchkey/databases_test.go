package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// eachDatabase runs a scenario against SQLite and, when
// LATCHKEY_TEST_POSTGRES_URL is set, against PostgreSQL (a schema of its
// own); databaseURL is "" for SQLite.
func eachDatabase(t *testing.T, run func(t *testing.T, databaseURL string)) {
	t.Run("sqlite", func(t *testing.T) { run(t, "") })
	t.Run("postgres", func(t *testing.T) { run(t, storetest.PostgresURL(t)) })
}

// startLatchkeyWith starts Latchkey as startLatchkey does, on databaseURL
// ("" for SQLite in a temp folder), with edit (when not nil) changing the
// configuration first.
func startLatchkeyWith(tb testing.TB, databaseURL string, edit func(*Config)) *harness {
	tb.Helper()
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	logs := &syncWriter{w: &bytes.Buffer{}}
	cfg := Config{Addr: "127.0.0.1:0", DataDir: tb.TempDir(), DatabaseURL: databaseURL, AdminAPIKey: testAdminKey, RefreshInterval: -1}
	if edit != nil {
		edit(&cfg)
	}
	m := &Main{WrapHandler: checked(tb), Config: cfg, Now: clock.Now, Stdout: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("Run: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return &harness{tb: tb, main: m, clock: clock, logs: logs, jar: newJar(tb)}
}
