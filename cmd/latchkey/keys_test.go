package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

const (
	rotAppSecret = "cs-rotation-fixed-client-secret"
	rotOrgSecret = "os-rotation-org-secret"
	rotOrg       = "acme"
	rotUsers     = 40
)

// rotServer is a running Latchkey in key-file mode, reloading its key file
// every 20 ms, with an app, an installation and rotUsers connections.
type rotServer struct {
	main *Main
	dir  string
	logs *syncWriter
}

func startRotServer(tb testing.TB) *rotServer {
	tb.Helper()
	dir := tb.TempDir()
	logs := &syncWriter{w: &bytes.Buffer{}}
	m := &Main{WrapHandler: checked(tb),
		Config:            Config{Addr: "127.0.0.1:0", DataDir: dir, AdminAPIKey: testAdminKey},
		Logger:            slog.New(slog.NewTextHandler(logs, nil)),
		Stdout:            io.Discard,
		KeyReloadInterval: 20 * time.Millisecond,
	}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("Run: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	s := &rotServer{main: m, dir: dir, logs: logs}
	ctx := context.Background()
	st := m.Store()
	app, err := latchkey.ParseApp([]byte(strings.ReplaceAll(seedApp, "{{provider}}", "https://provider.example")))
	if err != nil {
		tb.Fatal(err)
	}
	app.Settings = append(app.Settings, latchkey.Setting{Name: "signing_secret", Level: latchkey.LevelOrg, Secret: true})
	app.OAuthConfigs[0].Values = map[string]string{"signing_secret": rotAppSecret}
	if _, err := st.PutApp(ctx, app); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.PutInstallation(ctx, latchkey.Installation{App: "capacity", Org: rotOrg,
		Values: map[string]string{"client_id": "capacity-client", "client_secret": rotOrgSecret, "redirect_uri": seedCallback}}); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < rotUsers; i++ {
		if _, err := st.PutConnection(ctx, latchkey.Connection{ConnectionKey: s.user(i), Status: latchkey.StatusActive,
			Values: map[string]string{"access_token": accessOf(i), "refresh_token": "rt-" + accessOf(i)}}); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

func (s *rotServer) user(i int) latchkey.ConnectionKey {
	return latchkey.ConnectionKey{App: "capacity", Org: rotOrg, User: fmt.Sprintf("u-%d", i), Config: "example"}
}

func accessOf(i int) string { return fmt.Sprintf("at-rotation-user-%d", i) }

// read fetches, through the server, the app, the org's secret and user i's
// token, and returns the first failure.
func (s *rotServer) read(i int) error {
	get := func(path, want string) error {
		req, _ := http.NewRequest("GET", s.main.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(want)) {
			return fmt.Errorf("GET %s: got HTTP %d %s, want 200 with %q", path, resp.StatusCode, b, want)
		}
		return nil
	}
	u := s.user(i)
	if err := get("/api/v1/apps/capacity", `"capacity"`); err != nil {
		return err
	}
	if err := get("/api/v1/apps/capacity/orgs/"+rotOrg+"/settings", `"capacity-client"`); err != nil {
		return err
	}
	if err := get("/api/v1/apps/capacity/orgs/"+rotOrg+"/users/"+u.User+"/settings/client_secret", rotOrgSecret); err != nil {
		return err
	}
	return get("/api/v1/apps/capacity/orgs/"+rotOrg+"/users/"+u.User+"/connections/example", accessOf(i))
}

// readWhile reads in a loop, from two clients, until stop is closed, and
// returns the number of rounds and every failure.
func (s *rotServer) readWhile(stop <-chan struct{}) func() (int, []error) {
	var (
		mu     sync.Mutex
		rounds int
		errs   []error
		wg     sync.WaitGroup
	)
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := s.read(i % rotUsers)
				mu.Lock()
				rounds++
				if err != nil && len(errs) < 5 {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}(c)
	}
	return func() (int, []error) {
		wg.Wait()
		return rounds, errs
	}
}

// sealedKeyIDs counts the sealed values in the server's database by the id
// of the key they are under.
func sealedKeyIDs(tb testing.TB, m *Main) map[string]int {
	tb.Helper()
	db := m.Store().(*sqlstore.Store).DB()
	ids := map[string]int{}
	for _, q := range []string{"SELECT document FROM apps", "SELECT value FROM setting_values", "SELECT code_verifier FROM auth_states"} {
		var vals []string
		if err := db.Raw(q).Scan(&vals).Error; err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		for _, v := range vals {
			ids[secretbox.KeyID(v)]++
		}
	}
	return ids
}

func loadKeys(tb testing.TB, dir string) []secretbox.Key {
	tb.Helper()
	keys, err := secretbox.LoadKeyFile(filepath.Join(dir, keyFileName))
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

// TestKeysRotateWhileServing rotates the key file of a running server while
// two clients read from it: no read fails, the file ends with one new key,
// the server took it without a restart, and no value in the database is
// under the old key.
func TestKeysRotateWhileServing(t *testing.T) {
	s := startRotServer(t)
	old := loadKeys(t, s.dir)
	if len(old) != 1 {
		t.Fatalf("got %d keys in a new key file, want 1", len(old))
	}
	values := 1 + 3 + 2*rotUsers // the app document, the installation, the tokens
	if got := sealedKeyIDs(t, s.main)[old[0].ID]; got != values {
		t.Fatalf("before the rotation: got %d values under the first key, want %d", got, values)
	}

	stop := make(chan struct{})
	wait := s.readWhile(stop)
	var stdout, stderr bytes.Buffer
	err := runKeys(context.Background(), []string{"rotate", "--data-dir", s.dir, "--remove-old", "--batch", "7", "--wait", "150ms"}, &stdout, &stderr)
	time.Sleep(150 * time.Millisecond) // reads go on while the server loads the file with the new key alone
	close(stop)
	rounds, errs := wait()
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, stderr.String())
	}
	for _, e := range errs {
		t.Errorf("a read during the rotation failed: %v", e)
	}
	if rounds < 10 {
		t.Fatalf("got %d read rounds during the rotation, want reads all along", rounds)
	}

	keys := loadKeys(t, s.dir)
	if len(keys) != 1 || keys[0].ID == old[0].ID {
		t.Fatalf("after --remove-old: got keys %v, want one new key", keyIDs(keys))
	}
	ids := sealedKeyIDs(t, s.main)
	if ids[old[0].ID] != 0 || ids[keys[0].ID] != values {
		t.Fatalf("after the rotation: got values by key id %v, want all %d under %s", ids, values, keys[0].ID)
	}
	for i := 0; i < rotUsers; i++ {
		if err := s.read(i); err != nil {
			t.Fatalf("after the rotation: %v", err)
		}
	}
	// The server encrypts with the new key: a value it writes now is under it.
	if _, err := s.main.Store().PutInstallation(context.Background(), latchkey.Installation{App: "capacity", Org: "globex",
		Values: map[string]string{"client_id": "globex-client"}}); err != nil {
		t.Fatal(err)
	}
	// The secret fixed in the app's config reads with the new key alone.
	if app, err := s.main.Store().GetApp(context.Background(), "capacity"); err != nil || app.OAuthConfigs[0].Values["signing_secret"] != rotAppSecret {
		t.Fatalf("GetApp after the rotation: got %v, want the fixed secret back", err)
	}
	if got := sealedKeyIDs(t, s.main)[keys[0].ID]; got != values+1 {
		t.Fatalf("a value written after the rotation: got %d values under the new key, want %d", got, values+1)
	}

	out, errOut := stdout.String(), stderr.String()
	for _, want := range []string{"Waiting 150ms", fmt.Sprintf("] %d/%d rows", values, values), "[" + strings.Repeat("#", barWidth) + "]"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr: got %q, want it to contain %q", errOut, want)
		}
	}
	for _, want := range []string{fmt.Sprintf("Re-encrypted %d values under key %s", values, keys[0].ID), "Removed the old keys (" + old[0].ID + ")"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout: got %q, want it to contain %q", out, want)
		}
	}
	if logs := s.logs.String(); strings.Count(logs, "encryption keys reloaded") < 2 {
		t.Errorf("server log: got %q, want two key reloads (both keys, then the new one alone)", logs)
	}
	assertNotInDataDir(t, s.dir, rotAppSecret, rotOrgSecret, accessOf(0))
}

// TestKeysRotateKeepsOldKeysWithoutRemoveOld: without --remove-old, the new
// key is first and the old one stays after it; a second rotation adds
// another key and re-encrypts again.
func TestKeysRotateKeepsOldKeysWithoutRemoveOld(t *testing.T) {
	s := startRotServer(t)
	first := loadKeys(t, s.dir)[0]
	for round := 1; round <= 2; round++ {
		var stdout, stderr bytes.Buffer
		if err := runKeys(context.Background(), []string{"rotate", "--data-dir", s.dir, "--wait", "60ms"}, &stdout, &stderr); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, stderr.String())
		}
		keys := loadKeys(t, s.dir)
		if len(keys) != round+1 || keys[round].ID != first.ID {
			t.Fatalf("round %d: got keys %v, want a new key first and %s last", round, keyIDs(keys), first.ID)
		}
		if ids := sealedKeyIDs(t, s.main); len(ids) != 1 || ids[keys[0].ID] == 0 {
			t.Fatalf("round %d: got values by key id %v, want all under %s", round, ids, keys[0].ID)
		}
		if !strings.Contains(stdout.String(), "still in") {
			t.Errorf("round %d: stdout %q does not say the old keys stay", round, stdout.String())
		}
	}
	if err := s.read(3); err != nil {
		t.Fatal(err)
	}
}

// TestKeysRotateFailsClearly: a missing data folder, a store that cannot
// open, and a value no key of the file opens each fail with a message that
// says what is wrong and shows no secret; the undecryptable value leaves the
// old key in the file even with --remove-old.
func TestKeysRotateFailsClearly(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nope")
	err := runKeys(ctx, []string{"rotate", "--data-dir", missing}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "data folder") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing data folder: got %v, want a data folder error", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("missing data folder: rotate created it (stat: %v)", err)
	}

	// A data folder with a key file but a database that cannot open: the
	// key file is left as it was.
	dir := t.TempDir()
	keys, err := secretbox.LoadOrCreateKeyFile(filepath.Join(dir, keyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "latchkey.db"), []byte("not a database, not at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = runKeys(ctx, []string{"rotate", "--data-dir", dir, "--wait", "0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "opening the store") {
		t.Fatalf("broken database: got %v, want an opening the store error", err)
	}
	if got := loadKeys(t, dir); len(got) != 1 || got[0].ID != keys[0].ID {
		t.Fatalf("broken database: got keys %v, want the file unchanged (%s)", keyIDs(got), keys[0].ID)
	}

	// A value sealed under a key the file does not hold.
	s := startRotServer(t)
	stranger, _ := secretbox.GenerateKey()
	ring, _ := secretbox.NewKeyring(stranger)
	st := s.main.Store().(*sqlstore.Store)
	st.SetKeyring(ring)
	if _, err := st.PutInstallation(ctx, latchkey.Installation{App: "capacity", Org: "initech",
		Values: map[string]string{"client_secret": "os-stranger-secret"}}); err != nil {
		t.Fatal(err)
	}
	old := loadKeys(t, s.dir)
	var stderr bytes.Buffer
	err = runKeys(ctx, []string{"rotate", "--data-dir", s.dir, "--remove-old", "--wait", "0"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "setting value") || !strings.Contains(err.Error(), "run latchkey keys rotate again") ||
		strings.Contains(err.Error(), "os-stranger-secret") {
		t.Fatalf("undecryptable value: got %v, want an error naming a setting value and what to do", err)
	}
	if strings.Contains(stderr.String(), "os-stranger-secret") {
		t.Fatal("the secret is in the command's output")
	}
	if got := loadKeys(t, s.dir); len(got) != 2 || got[1].ID != old[0].ID {
		t.Fatalf("undecryptable value with --remove-old: got keys %v, want the new key and the old %s kept", keyIDs(got), old[0].ID)
	}
}

// TestKeysRotateEnv: with LATCHKEY_ENCRYPTION_KEY, rotate invents no key: it
// refuses a single key and --remove-old, and with the new key first it
// re-encrypts under it and says to drop the old one and restart.
func TestKeysRotateEnv(t *testing.T) {
	ctx := context.Background()
	oldKey, _ := secretbox.GenerateKey()
	newKey, _ := secretbox.GenerateKey()
	dir := t.TempDir()
	t.Setenv("LATCHKEY_ENCRYPTION_KEY", oldKey.String())
	m := &Main{WrapHandler: checked(t), Config: Config{Addr: "127.0.0.1:0", DataDir: dir, AdminAPIKey: testAdminKey, EncryptionKeys: oldKey.String()},
		Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard}
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store().PutApp(ctx, storetest.App("demo")); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, keyFileName)); !os.IsNotExist(err) {
		t.Fatalf("env mode: got a key file (stat: %v), want none", err)
	}

	err := runKeys(ctx, []string{"rotate", "--data-dir", dir}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "holds one key") || strings.Contains(err.Error(), oldKey.String()) {
		t.Fatalf("one key: got %v, want a holds one key error", err)
	}
	t.Setenv("LATCHKEY_ENCRYPTION_KEY", newKey.String()+","+oldKey.String())
	if err := runKeys(ctx, []string{"rotate", "--data-dir", dir, "--remove-old"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "drop the old keys from the variable") {
		t.Fatalf("--remove-old in env mode: got %v, want a refusal", err)
	}
	var stdout bytes.Buffer
	if err := runKeys(ctx, []string{"rotate", "--data-dir", dir}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "set LATCHKEY_ENCRYPTION_KEY to key " + newKey.ID + " alone (drop " + oldKey.ID + ") and restart the servers, one replica at a time"; !strings.Contains(stdout.String(), want) {
		t.Fatalf("stdout: got %q, want %q", stdout.String(), want)
	}

	// The new key alone reads everything.
	m = &Main{WrapHandler: checked(t), Config: Config{Addr: "127.0.0.1:0", DataDir: dir, AdminAPIKey: testAdminKey, EncryptionKeys: newKey.String()},
		Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard}
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if app, err := m.Store().GetApp(ctx, "demo"); err != nil || app.OAuthConfigs[0].Values["client_secret"] == "" {
		t.Fatalf("GetApp with the new key alone: got %v, want the app", err)
	}
}

// TestKeyReloadIgnoresABadFile: a key file that changes into garbage, or
// disappears, is logged and the server keeps its keys and keeps serving.
func TestKeyReloadIgnoresABadFile(t *testing.T) {
	s := startRotServer(t)
	path := filepath.Join(s.dir, keyFileName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("garbage line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, s.logs, "cannot be loaded")
	if err := s.read(1); err != nil {
		t.Fatalf("after a bad key file: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, s.logs, "cannot be read")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the server recreated the key file (stat: %v), want it left missing", err)
	}
	if err := s.read(2); err != nil {
		t.Fatalf("after the key file disappeared: %v", err)
	}
	// Put back, it is loaded again.
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, s.logs, "encryption keys reloaded")
	if logs := s.logs.String(); strings.Contains(logs, string(bytes.TrimSpace(good))) {
		t.Fatal("a key is in the server's log")
	}
}

func waitForLog(tb testing.TB, logs *syncWriter, want string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			tb.Fatalf("server log: got %q, want %q within 5s", logs.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
