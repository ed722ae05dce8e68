package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// onEachDatabase runs test against a Latchkey on SQLite and, when
// LATCHKEY_TEST_POSTGRES_URL is set, one on PostgreSQL.
func onEachDatabase(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Run("SQLite", func(t *testing.T) { test(t, startLatchkey(t)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		url := storetest.PostgresURL(t) // skips without a server
		test(t, startLatchkeyOn(t, Config{DatabaseURL: url}))
	})
}

// startLatchkeyOn is startLatchkey with cfg's database.
func startLatchkeyOn(tb testing.TB, cfg Config) *harness {
	tb.Helper()
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	logs := &syncWriter{w: &bytes.Buffer{}}
	cfg.Addr, cfg.AdminAPIKey, cfg.RefreshInterval = "127.0.0.1:0", testAdminKey, -1
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
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
	return &harness{tb: tb, main: m, clock: clock, logs: logs}
}

// twoConfigApp is seed 002's app with a second OAuth config, "backup".
var twoConfigApp = providerApp + `
  - name: backup
    link_url: "https://backup.example/authorize?client_id={{client_id}}"
    token_url: https://backup.example/token
    access_token_variable_name: access_token
`

// connect stores an active connection of config for user, as a callback
// would.
func connect(tb testing.TB, h *harness, user, config string) {
	tb.Helper()
	_, err := h.main.Store().PutConnection(context.Background(), latchkey.Connection{
		ConnectionKey: latchkey.ConnectionKey{App: "capacity", Org: "acme", User: user, Config: config},
		Status:        latchkey.StatusActive, ExpiresAt: h.clock.Now().Add(time.Hour), RefreshedAt: h.clock.Now(),
		Values: map[string]string{"access_token": "at-" + user + "-" + config}})
	if err != nil {
		tb.Fatalf("connecting %s to %s: %v", user, config, err)
	}
}

// TestRemovingAConfigWithConnections: a save that renames or removes an
// OAuth config that still has connections is refused with a 409 that names
// the config and how many, and changes nothing; asked to, it deletes them
// with the save. apply says the same with its flag.
func TestRemovingAConfigWithConnections(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, h *harness) {
		h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", twoConfigApp)
		connect(t, h, "alice", "example")
		connect(t, h, "bob", "example")
		connect(t, h, "alice", "backup")
		before := revision(t, h, "capacity")

		renamed := strings.Replace(twoConfigApp, "  - name: example\n", "  - name: renamed\n", 1)
		resp, body := h.do("PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", renamed)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), `\"example\" (2 connections)`) ||
			!strings.Contains(string(body), "delete_connections=true") {
			t.Fatalf("rename: got HTTP %d %s, want 409 naming example's 2 connections and delete_connections", resp.StatusCode, body)
		}
		wantFieldError(t, "rename", body, "oauth_configs", `"example"`, "2 connections")
		if got := revision(t, h, "capacity"); got != before {
			t.Fatalf("a refused save changed the revision: got %v, want %v", got, before)
		}
		if tok := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/users/bob/connections/example",
			testAdminKey, "", "")); tok["access_token"] != "at-bob-example" {
			t.Fatalf("after the refused save: got %v, want bob's token", tok)
		}
		if resp, _ := h.do("PUT", "/api/v1/apps/capacity?delete_connections=yes", testAdminKey, "application/yaml", renamed); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("delete_connections=yes: got HTTP %d, want 400", resp.StatusCode)
		}

		// Through apply: refused, naming the flag; then applied with it.
		file := filepath.Join(t.TempDir(), "capacity.yaml")
		if err := os.WriteFile(file, []byte(renamed), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("LATCHKEY_API_KEY", testAdminKey)
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"apply", "-f", file, "--server", h.main.URL}, &stdout, &stderr)
		if err == nil || !strings.Contains(stderr.String(), "2 connections") || !strings.Contains(stderr.String(), "--delete-connections") {
			t.Fatalf("apply: got %v, stderr %q; want a refusal naming 2 connections and --delete-connections", err, stderr.String())
		}
		stdout.Reset()
		err = run(context.Background(), []string{"apply", "--delete-connections", "-f", file, "--server", h.main.URL}, &stdout, &stderr)
		if err != nil || !strings.Contains(stdout.String(), "2 connections of removed OAuth configs deleted") {
			t.Fatalf("apply --delete-connections: got %v, stdout %q; want 2 connections deleted", err, stdout.String())
		}
		conns := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/connections", testAdminKey, "", ""))["connections"].([]any)
		if len(conns) != 1 || conns[0].(map[string]any)["config"] != "backup" {
			t.Fatalf("after the save: got connections %v, want only alice's backup", conns)
		}
		audit := h.expect(http.StatusOK, "GET", "/api/v1/audit?app=capacity", testAdminKey, "", "")
		if !strings.Contains(string(audit), "deleted 2 connections of removed OAuth configs") {
			t.Errorf("the audit log does not say the save deleted 2 connections: %s", audit)
		}

		// Removing the other config with the API's parameter.
		resp, _ = h.do("PUT", "/api/v1/apps/capacity?delete_connections=true", testAdminKey, "application/yaml",
			strings.SplitN(renamed, "  - name: backup\n", 2)[0])
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Latchkey-Deleted-Connections") != "1" {
			t.Fatalf("remove backup: got HTTP %d with %q deleted, want 200 and 1", resp.StatusCode, resp.Header.Get("Latchkey-Deleted-Connections"))
		}
	})
}

// TestConnectionOfAGoneConfigCanBeDeleted: a connection left without its
// OAuth config (by a save before such saves were refused) is deleted by
// DELETE, without revocation, and the answer says so.
func TestConnectionOfAGoneConfigCanBeDeleted(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, h *harness) {
		h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", providerApp)
		// The row such a save left behind.
		now := h.clock.Now().UTC()
		if err := h.main.store.DB().Exec(`INSERT INTO connections (env, app, org, user_id, config, status, version, created_at, updated_at)
			VALUES ('dev', 'capacity', 'acme', 'alice', 'gone', 'active', 1, ?, ?)`, now, now).Error; err != nil {
			t.Fatal(err)
		}
		path := "/api/v1/apps/capacity/orgs/acme/users/alice/connections/gone"
		body := decode(t, h.expect(http.StatusOK, "DELETE", path, testAdminKey, "", ""))
		if body["revoked"] != false || !strings.Contains(body["notice"].(string), "without revoking") {
			t.Fatalf("DELETE: got %v, want revoked false and a notice saying so", body)
		}
		h.expect(http.StatusNotFound, "DELETE", path, testAdminKey, "", "")
		if conns := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/connections", testAdminKey, "", ""))["connections"].([]any); len(conns) != 0 {
			t.Fatalf("after DELETE: got connections %v, want none", conns)
		}
	})
}

// TestAppsFolderThatWouldStrandConnections: a document of the apps folder
// loaded at start that removes a config with connections stops the start
// with the 409's message and what to do; the stored document is kept.
func TestAppsFolderThatWouldStrandConnections(t *testing.T) {
	data := t.TempDir()
	first := &Main{WrapHandler: checked(t), Config: Config{Addr: "127.0.0.1:0", DataDir: data, AdminAPIKey: testAdminKey, RefreshInterval: -1},
		Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler)}
	if err := first.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{tb: t, main: first, clock: providertest.NewClock(time.Now())}
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", twoConfigApp)
	connect(t, h, "alice", "backup")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	apps := t.TempDir()
	if err := os.WriteFile(filepath.Join(apps, "capacity.yaml"), []byte(providerApp), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Main{WrapHandler: checked(t), Config: Config{Addr: "127.0.0.1:0", DataDir: data, AppsDir: apps, AdminAPIKey: testAdminKey, RefreshInterval: -1},
		Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler)}
	err := m.Run(context.Background())
	m.Close()
	if err == nil {
		t.Fatal("Run loaded a document that strands a connection")
	}
	for _, want := range []string{"capacity.yaml", `"backup" (1 connection)`, "latchkey apply --delete-connections"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q in it", err, want)
		}
	}
}

// TestBrowserRenamingAConfigWithConnections: in the builder UI, saving a
// renamed config that has connections asks, with the server's count, and
// saves deleting them only once the admin agrees.
func TestBrowserRenamingAConfigWithConnections(t *testing.T) {
	ctx := newBrowser(t)
	h := startLatchkey(t)
	addAdmin(t, h)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", providerApp)
	connect(t, h, "alice", "example")

	var asked string
	var saved string
	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))
	browse(t, ctx, "rename the config", openUI(h, "#/apps/capacity"),
		chromedp.WaitVisible("#c0-name", chromedp.ByQuery), setInput("#c0-name", "renamed"),
		// Decline first: nothing is saved.
		chromedp.Evaluate(`window.confirm = m => { window.__asked = m; return false }; true`, nil),
		chromedp.Click(`//button[text()="Save app"]`), chromedp.WaitVisible(`.alert`, chromedp.ByQuery),
		chromedp.Evaluate(`window.__asked`, &asked))
	if !strings.Contains(asked, `"example", which still has 1 connection`) {
		t.Fatalf("the UI asked %q, want the config and its connection named", asked)
	}
	if got := revision(t, h, "capacity"); got != 1 {
		t.Fatalf("declined: got revision %v, want 1", got)
	}
	browse(t, ctx, "agree", chromedp.Evaluate(`window.confirm = () => true; true`, nil),
		chromedp.Click(`//button[text()="Save app"]`), chromedp.WaitVisible(`//span[@id="save-status"][starts-with(., "Saved")]`),
		chromedp.Text(`#save-status`, &saved, chromedp.ByQuery))
	if !strings.Contains(saved, "revision 2") {
		t.Fatalf("got %q, want the save of revision 2", saved)
	}
	if conns := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/connections", testAdminKey, "", ""))["connections"].([]any); len(conns) != 0 {
		t.Fatalf("after agreeing: got connections %v, want none", conns)
	}
}
