package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// BenchmarkAPIKeyUse is an authenticated API call (GET /api/v1/apps with
// a stored admin key, through the server's whole middleware chain on
// SQLite) without recording the key's use (baseline) and with it
// (touch: the real server, which writes a use once a minute, so that in
// the steady state a call only checks when the key's use was last
// queued). The ratio is what recording the last use adds to a call.
// check is what the steady state adds alone: the look at when the key's
// use was last known. TouchAPIKey is the cost of one write of a use, which
// an inline write would add to the one call a minute that makes it.
func BenchmarkAPIKeyUse(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { benchKeyUse(b, -1) })
	b.Run("touch", func(b *testing.B) { benchKeyUse(b, latchkey.APIKeyUseResolution) })
	b.Run("check", func(b *testing.B) {
		_, s := keyUseBenchServer(b)
		now := time.Now()
		key := latchkey.APIKey{ID: "bench", Env: latchkey.DefaultEnvironment, LastUsedAt: &now}
		for b.Loop() {
			s.keyUses.note(key, now)
		}
	})
	b.Run("TouchAPIKey", func(b *testing.B) {
		st, _ := keyUseBenchServer(b)
		at := time.Now()
		for b.Loop() {
			at = at.Add(latchkey.APIKeyUseResolution)
			if err := st.TouchAPIKey(context.Background(), "bench", at); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchKeyUse(b *testing.B, every time.Duration) {
	_, s := keyUseBenchServer(b)
	s.keyUses.every = every
	req := httptest.NewRequest(http.MethodGet, "/api/v1/apps", nil)
	req.Header.Set("Authorization", "Bearer "+keyUseBenchKey)
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /api/v1/apps: got HTTP %d %s, want 200", rec.Code, rec.Body)
		}
	}
}

// keyUseBenchKey is the full key of the benchmark's stored admin key.
var keyUseBenchKey string

// keyUseBenchServer opens a store on SQLite in a temp folder with one
// stored admin key whose id is "bench", and a server on it.
func keyUseBenchServer(b *testing.B) (*sqlstore.Store, *Server) {
	b.Helper()
	ctx := context.Background()
	key, err := secretbox.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(key)
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(b.TempDir(), "l.db"), Keyring: ring})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	rec, full, err := apikey.Generate(latchkey.ScopeAdmin, "", "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, rec); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, latchkey.APIKey{ID: "bench", Scope: latchkey.ScopeAdmin, Hash: []byte{1}}); err != nil {
		b.Fatal(err)
	}
	keyUseBenchKey = full
	s, err := New(Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return st, s
}
