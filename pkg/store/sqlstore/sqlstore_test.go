package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

var ctx = context.Background()

func newKey(tb testing.TB) secretbox.Key {
	tb.Helper()
	k, err := secretbox.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func newRing(tb testing.TB, keys ...secretbox.Key) *secretbox.Keyring {
	tb.Helper()
	if len(keys) == 0 {
		keys = append(keys, newKey(tb))
	}
	ring, err := secretbox.NewKeyring(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	return ring
}

// openSQLite opens a new SQLite store in a temp folder and returns it with
// the database file's path.
func openSQLite(tb testing.TB, ring *secretbox.Keyring) (*sqlstore.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "data", "latchkey.db")
	return openAt(tb, path, ring), path
}

func openAt(tb testing.TB, url string, ring *secretbox.Keyring) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.Open(ctx, sqlstore.Config{URL: url, Keyring: ring})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store {
		s, _ := openSQLite(t, newRing(t))
		return s
	})
}

// TestPostgres runs the suite on PostgreSQL, each subtest in a schema of its
// own that is dropped afterwards, so that runs do not see each other.
func TestPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips, saying why, without a server
	storetest.RunTests(t, func(t *testing.T) store.Store {
		return openAt(t, storetest.PostgresURL(t), newRing(t))
	})
}

// Secrets used by the at-rest tests: none of them may appear in the
// database files.
const (
	clientSecret = "cs-PLAINTEXT-client-secret-0001"
	orgSecret    = "os-PLAINTEXT-org-secret-0002"
	accessToken  = "at-PLAINTEXT-access-token-0003"
	refreshToken = "rt-PLAINTEXT-refresh-token-0004"
	codeVerifier = "cv-PLAINTEXT-code-verifier-0005"
	linkToken    = "lt-PLAINTEXT-link-token-0006"
	stateValue   = "st-PLAINTEXT-state-0007"
	// traceAnswer is a provider's data in a trace's step: masked traces
	// hold no secret, but their answers are sealed all the same.
	traceAnswer = "ta-PLAINTEXT-trace-answer-0008"
)

var alice = latchkey.ConnectionKey{App: "demo", Org: "acme-visible-org", User: "alice", Config: "main"}

// fill writes an app, an installation, a connection, a link and a state
// holding every kind of secret the store keeps.
func fill(tb testing.TB, s store.Store) {
	tb.Helper()
	app := storetest.App("demo")
	app.OAuthConfigs[0].ClientSecret = clientSecret
	if _, err := s.PutApp(ctx, app); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: alice.Org, Values: map[string]string{"client_secret": orgSecret}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: alice, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": accessToken, "refresh_token": refreshToken}}); err != nil {
		tb.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if err := s.CreateLink(ctx, linkToken, latchkey.Link{ConnectionKey: alice, ExpiresAt: exp}); err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateState(ctx, stateValue, latchkey.AuthState{ConnectionKey: alice, CodeVerifier: codeVerifier, ExpiresAt: exp}); err != nil {
		tb.Fatal(err)
	}
	if err := s.AppendTraces(ctx, latchkey.Trace{ID: "trc_at_rest", ConnectionKey: alice, Kind: latchkey.TraceRefresh, StartedAt: exp,
		Steps: []latchkey.TraceStep{{Name: "refresh", ResponseBody: traceAnswer}}}); err != nil {
		tb.Fatal(err)
	}
}

// TestNoPlaintextAtRest scans the raw bytes of the SQLite database and its
// write-ahead log for every secret the store was given.
func TestNoPlaintextAtRest(t *testing.T) {
	s, path := openSQLite(t, newRing(t))
	fill(t, s)
	var raw []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	// The scan sees the data: names that are not secret are there.
	if !bytes.Contains(raw, []byte(alice.Org)) {
		t.Fatalf("got database files without the org name %q, want the scan to see the rows", alice.Org)
	}
	for _, secret := range []string{clientSecret, orgSecret, accessToken, refreshToken, codeVerifier, linkToken, stateValue, traceAnswer} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("got %q in plain text in the database files, want it encrypted or hashed", secret)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("got database file mode %o, want 600", got)
	}
}

// TestCopiedCiphertextFails copies alice's sealed token into bob's row: the
// value is bound to alice's row and must not decrypt as bob's.
func TestCopiedCiphertextFails(t *testing.T) {
	s, _ := openSQLite(t, newRing(t))
	fill(t, s)
	bob := alice
	bob.User = "bob"
	if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: bob, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "bob-token"}}); err != nil {
		t.Fatal(err)
	}
	var sealed string
	if err := s.DB().Raw("SELECT value FROM setting_values WHERE user_id = ? AND name = ?", "alice", "access_token").Scan(&sealed).Error; err != nil || sealed == "" {
		t.Fatalf("reading alice's sealed token: got %q, %v", sealed, err)
	}
	if err := s.DB().Exec("UPDATE setting_values SET value = ? WHERE user_id = ? AND name = ?", sealed, "bob", "access_token").Error; err != nil {
		t.Fatal(err)
	}
	_, err := s.GetConnection(ctx, bob)
	if err == nil {
		t.Fatalf("GetConnection(bob) with alice's ciphertext: got no error, want a decryption failure")
	}
	for _, want := range []string{`"access_token"`, `"bob"`, "belongs to another row"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got error %q, want it to contain %s", err, want)
		}
	}
	if strings.Contains(err.Error(), accessToken) || strings.Contains(err.Error(), sealed) {
		t.Errorf("got error %q, want no token or ciphertext in it", err)
	}
	if c, err := s.GetConnection(ctx, alice); err != nil || c.Values["access_token"] != accessToken {
		t.Fatalf("GetConnection(alice): got %v, want her own token back", err)
	}
}

// TestFailedWriteKeepsState makes the database refuse a write half-way (a
// trigger that raises on one setting) and checks that nothing of it is kept.
func TestFailedWriteKeepsState(t *testing.T) {
	s, _ := openSQLite(t, newRing(t))
	fill(t, s)
	before, err := s.GetConnection(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB().Exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON setting_values WHEN NEW.name = 'boom'
		BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`).Error
	if err != nil {
		t.Fatal(err)
	}
	next := before
	next.Version = 0
	next.Status = latchkey.StatusNeedsReauth
	next.Values = map[string]string{"access_token": "at-new", "boom": "x"} // "access_token" sorts first: written before the failure
	if _, err := s.PutConnection(ctx, next); err == nil {
		t.Fatalf("PutConnection through a refusing trigger: got no error, want one")
	}
	_, err = s.UpdateConnection(ctx, alice, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.Status = latchkey.StatusExpired
		c.Values = next.Values
		return c, nil
	})
	if err == nil {
		t.Fatalf("UpdateConnection through a refusing trigger: got no error, want one")
	}
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: alice.Org, Values: map[string]string{"a": "1", "boom": "2"}}); err == nil {
		t.Fatalf("PutInstallation through a refusing trigger: got no error, want one")
	}

	got, err := s.GetConnection(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != before.Version || got.Status != before.Status || got.Values["access_token"] != accessToken || len(got.Values) != 2 {
		t.Fatalf("after failed writes: got version %d status %q %d values, want version %d status %q and the old tokens",
			got.Version, got.Status, len(got.Values), before.Version, before.Status)
	}
	inst, err := s.GetInstallation(ctx, "demo", alice.Org)
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Values) != 1 || inst.Values["client_secret"] != orgSecret {
		t.Fatalf("after a failed PutInstallation: got %d values, want the old client secret alone", len(inst.Values))
	}

	// A cancelled context fails a write and keeps nothing of it either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.PutConnection(cctx, latchkey.Connection{ConnectionKey: alice, Status: latchkey.StatusExpired}); err == nil {
		t.Fatalf("PutConnection with a cancelled context: got no error, want one")
	}
	if got, err := s.GetConnection(ctx, alice); err != nil || got.Version != before.Version {
		t.Fatalf("after a cancelled write: got version %d, %v, want %d", got.Version, err, before.Version)
	}
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "latchkey.db")
	ring := newRing(t)
	s := openAt(t, "sqlite://"+path, ring)
	fill(t, s)
	s.Close()
	// The same file reopened by path is migrated already and keeps the data.
	again := openAt(t, path, ring)
	if _, err := again.GetApp(ctx, "demo"); err != nil {
		t.Fatalf("GetApp after reopening: %v", err)
	}
	if _, err := sqlstore.Open(ctx, sqlstore.Config{URL: path}); err == nil {
		t.Fatalf("Open without a keyring: got no error, want one")
	}
	if _, err := sqlstore.Open(ctx, sqlstore.Config{URL: path + "?mode=memory", Keyring: ring}); err == nil {
		t.Fatalf("Open with SQLite parameters: got no error, want one")
	}
	// Another keyring cannot read what the first sealed.
	other := openAt(t, path, newRing(t))
	if _, err := other.GetApp(ctx, "demo"); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Fatalf("GetApp under another keyring: got %v, want an unknown key id error", err)
	}
}

// TestRotate re-encrypts everything under a new primary key; afterwards the
// old key can be dropped from the keyring.
func TestRotate(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { testRotate(t, filepath.Join(t.TempDir(), "latchkey.db")) })
	t.Run("Postgres", func(t *testing.T) {
		testRotate(t, storetest.PostgresURL(t))
	})
}

func testRotate(t *testing.T, path string) {
	oldKey, newKey := newKey(t), newKey(t)
	s := openAt(t, path, newRing(t, oldKey))
	fill(t, s)
	bob := alice
	bob.User = "bob"
	if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: bob, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "bob-token", "refresh_token": "bob-refresh"}}); err != nil {
		t.Fatal(err)
	}
	csrf, err := s.ServerSecret(ctx, "csrf")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openAt(t, path, newRing(t, newKey, oldKey))
	var calls, lastDone, lastTotal int
	if err := s.Rotate(ctx, 2, func(done, total int) { calls, lastDone, lastTotal = calls+1, done, total }); err != nil {
		t.Fatal(err)
	}
	// Batches of at most 2 per table: 1 app document; 5 setting values (1
	// org-level, 4 tokens) in 3 batches; 1 code verifier; 1 trace's steps;
	// 1 server secret.
	if lastDone != 9 || lastTotal != 9 || calls != 7 {
		t.Fatalf("Rotate progress: got %d calls ending at %d/%d, want 7 batches ending at 9/9", calls, lastDone, lastTotal)
	}
	var stale int64
	for _, q := range []string{
		"SELECT count(*) FROM apps WHERE document NOT LIKE 'v1." + newKey.ID + ".%'",
		"SELECT count(*) FROM setting_values WHERE value NOT LIKE 'v1." + newKey.ID + ".%'",
		"SELECT count(*) FROM traces WHERE steps NOT LIKE 'v1." + newKey.ID + ".%'",
		"SELECT count(*) FROM auth_states WHERE code_verifier NOT LIKE 'v1." + newKey.ID + ".%'",
		"SELECT count(*) FROM server_secrets WHERE value NOT LIKE 'v1." + newKey.ID + ".%'",
	} {
		if err := s.DB().Raw(q).Scan(&stale).Error; err != nil || stale != 0 {
			t.Fatalf("%s: got %d, %v, want 0", q, stale, err)
		}
	}
	if err := s.Rotate(ctx, 0, func(done, total int) { t.Fatalf("a second Rotate did work: %d/%d", done, total) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openAt(t, path, newRing(t, newKey))
	app, err := s.GetApp(ctx, "demo")
	if err != nil || app.OAuthConfigs[0].ClientSecret != clientSecret {
		t.Fatalf("GetApp with the old key dropped: got %v", err)
	}
	if inst, err := s.GetInstallation(ctx, "demo", alice.Org); err != nil || inst.Values["client_secret"] != orgSecret {
		t.Fatalf("GetInstallation with the old key dropped: got %v", err)
	}
	for _, k := range []latchkey.ConnectionKey{alice, bob} {
		if c, err := s.GetConnection(ctx, k); err != nil || len(c.Values) != 2 {
			t.Fatalf("GetConnection(%s) with the old key dropped: got %d values, %v, want 2", k.User, len(c.Values), err)
		}
	}
	if st, err := s.TakeState(ctx, stateValue, time.Now()); err != nil || st.CodeVerifier != codeVerifier {
		t.Fatalf("TakeState with the old key dropped: got %v", err)
	}
	// The same secret, not a new one: install links and CSRF tokens it
	// signed before the rotation stay valid.
	if got, err := s.ServerSecret(ctx, "csrf"); err != nil || !bytes.Equal(got, csrf) {
		t.Fatalf("ServerSecret with the old key dropped: got a different secret (%v), want the one from before the rotation", err)
	}
}
