package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

func newRing(tb testing.TB, keys ...secretbox.Key) *secretbox.Keyring {
	tb.Helper()
	if len(keys) == 0 {
		k, err := secretbox.GenerateKey()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, k)
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
	path := filepath.Join(tb.TempDir(), "latchkey.db")
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: path, Keyring: ring})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, path
}

func TestSQLite(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store {
		s, _ := openSQLite(t, newRing(t))
		return s
	})
}
