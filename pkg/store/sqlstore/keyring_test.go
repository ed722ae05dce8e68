package sqlstore_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// TestSetKeyringRotatesOnline swaps the keyring of an open store, as a
// running server does when its key file changes: values sealed under the old
// key still read once the new key is primary, new writes use the new key,
// and after Rotate the store reads everything with the new key alone.
func TestSetKeyringRotatesOnline(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	s, _ := openSQLite(t, newRing(t, oldKey))
	fill(t, s)

	s.SetKeyring(newRing(t, newKey, oldKey))
	assertFilled(t, s)
	bob := alice
	bob.User = "bob"
	if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: bob, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "bob-token"}}); err != nil {
		t.Fatal(err)
	}
	var sealed string
	if err := s.DB().Raw("SELECT value FROM setting_values WHERE user_id = 'bob'").Scan(&sealed).Error; err != nil {
		t.Fatal(err)
	}
	if got := secretbox.KeyID(sealed); got != newKey.ID {
		t.Fatalf("a value written after SetKeyring: got key id %q, want the new primary %q", got, newKey.ID)
	}
	if got := countUnder(t, s, oldKey.ID); got != 5 {
		t.Fatalf("values under the old key before Rotate: got %d, want 5", got)
	}

	if err := s.Rotate(ctx, 3, nil); err != nil {
		t.Fatal(err)
	}
	if got := countUnder(t, s, oldKey.ID); got != 0 {
		t.Fatalf("values under the old key after Rotate: got %d, want 0", got)
	}
	s.SetKeyring(newRing(t, newKey))
	assertFilled(t, s)
	if c, err := s.GetConnection(ctx, bob); err != nil || c.Values["access_token"] != "bob-token" {
		t.Fatalf("GetConnection(bob) with the new key alone: got %v, want bob-token", err)
	}

	// A nil keyring changes nothing.
	s.SetKeyring(nil)
	assertFilled(t, s)

	// A ring without the key the values are under cannot read them, and the
	// error names the value, not its content.
	s.SetKeyring(newRing(t, oldKey))
	_, err := s.GetInstallation(ctx, "demo", alice.Org)
	if err == nil || !strings.Contains(err.Error(), "unknown key id") || strings.Contains(err.Error(), orgSecret) {
		t.Fatalf("GetInstallation under a ring without the new key: got %v, want an unknown key id error", err)
	}
}

// TestSetKeyringWhileServing swaps keyrings while readers and writers run,
// for the race detector: no read fails, since every ring holds both keys.
func TestSetKeyringWhileServing(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	s, _ := openSQLite(t, newRing(t, k1, k2))
	fill(t, s)
	rings := []*secretbox.Keyring{newRing(t, k1, k2), newRing(t, k2, k1)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if i == 0 {
					if _, err := s.GetConnection(ctx, alice); err != nil {
						errs <- err
						return
					}
				} else if _, err := s.UpdateConnection(ctx, alice, func(c latchkey.Connection) (latchkey.Connection, error) {
					c.Values["access_token"] = accessToken
					return c, nil
				}); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	for i := 0; i < 50; i++ {
		s.SetKeyring(rings[i%2])
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a store call during the swaps: got %v, want none", err)
	}
	assertFilled(t, s)
}

// assertFilled reads back every secret fill wrote (but the link and state,
// which reading consumes).
func assertFilled(tb testing.TB, s *sqlstore.Store) {
	tb.Helper()
	app, err := s.GetApp(ctx, "demo")
	if err != nil || app.OAuthConfigs[0].ClientSecret != clientSecret {
		tb.Fatalf("GetApp: got %v, want the client secret back", err)
	}
	if inst, err := s.GetInstallation(ctx, "demo", alice.Org); err != nil || inst.Values["client_secret"] != orgSecret {
		tb.Fatalf("GetInstallation: got %v, want the org secret back", err)
	}
	c, err := s.GetConnection(ctx, alice)
	if err != nil || c.Values["access_token"] != accessToken || c.Values["refresh_token"] != refreshToken {
		tb.Fatalf("GetConnection: got %v, want both tokens back", err)
	}
}

// countUnder counts the sealed values, in every sealed column, whose key id
// is id.
func countUnder(tb testing.TB, s *sqlstore.Store, id string) int {
	tb.Helper()
	n := 0
	for _, q := range []string{
		"SELECT document FROM apps",
		"SELECT value FROM setting_values",
		"SELECT code_verifier FROM auth_states",
	} {
		var vals []string
		if err := s.DB().Raw(q).Scan(&vals).Error; err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		for _, v := range vals {
			if secretbox.KeyID(v) == id {
				n++
			}
		}
	}
	return n
}
