package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// TestTakeStateUnreadableKeepsState: a state whose code verifier cannot be
// decrypted (its key is missing from the keyring) fails with an internal
// error and is not consumed, so that it can still be taken once the key is
// back.
func TestTakeStateUnreadableKeepsState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	ring := func(tb testing.TB) *secretbox.Keyring {
		tb.Helper()
		k, err := secretbox.GenerateKey()
		if err != nil {
			tb.Fatal(err)
		}
		r, err := secretbox.NewKeyring(k)
		if err != nil {
			tb.Fatal(err)
		}
		return r
	}
	open := func(r *secretbox.Keyring) *sqlstore.Store {
		s, err := sqlstore.Open(ctx, sqlstore.Config{URL: path, Keyring: r})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := ring(t)
	s := open(good)
	if _, err := s.PutApp(ctx, latchkey.App{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	st := latchkey.AuthState{ConnectionKey: latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "main"},
		CodeVerifier: "verifier-that-is-secret", ExpiresAt: exp}
	if err := s.CreateState(ctx, "st", st); err != nil {
		t.Fatal(err)
	}
	s.Close()

	other := open(ring(t))
	_, err := other.TakeState(ctx, "st", exp.Add(-time.Minute))
	other.Close()
	if latchkey.ErrorCode(err) != latchkey.EINTERNAL || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeState under another key: got %v, want an internal decryption error", err)
	}

	s = open(good)
	defer s.Close()
	got, err := s.TakeState(ctx, "st", exp.Add(-time.Minute))
	if err != nil {
		t.Fatalf("TakeState after a failed read: got %v, want the state, kept whole", err)
	}
	if got.CodeVerifier != st.CodeVerifier {
		t.Fatalf("TakeState: got a %d-byte verifier, want the stored one", len(got.CodeVerifier))
	}
}
