package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// The connection cache's own scenarios: what the conformance suite cannot
// say through one store (several stores on one database, a listener that
// loses its connection, the bounds).

func cacheRing(tb testing.TB) *secretbox.Keyring {
	tb.Helper()
	k, err := secretbox.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(k)
	if err != nil {
		tb.Fatal(err)
	}
	return ring
}

func openCached(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// cacheFixture puts app "demo" and alice's connection "main" through s.
func cacheFixture(tb testing.TB, s *Store) latchkey.ConnectionKey {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.PutApp(ctx, storetest.App("demo")); err != nil {
		tb.Fatal(err)
	}
	k := latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "main"}
	if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: k, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "at-1"}}); err != nil {
		tb.Fatal(err)
	}
	return k
}

// setToken writes a new access token through s and returns the version.
func setToken(tb testing.TB, s *Store, k latchkey.ConnectionKey, token string) int64 {
	tb.Helper()
	c, err := s.UpdateConnection(context.Background(), k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.Values = map[string]string{"access_token": token}
		return c, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c.Version
}

// readCached reads k through s until s caches it (the notifications of
// writes just made may arrive during a read and keep it out).
func readCached(tb testing.TB, s *Store, k latchkey.ConnectionKey) latchkey.Connection {
	tb.Helper()
	for range 100 {
		c, err := s.GetConnection(context.Background(), k)
		if err != nil {
			tb.Fatal(err)
		}
		if _, _, ok := s.cache.get(latchkey.DefaultEnvironment, k); ok {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("after GetConnection: got nothing cached after 100 reads, want the connection")
	return latchkey.Connection{}
}

// eventually polls GetConnection through s until cond holds or the time is
// up.
func eventually(tb testing.TB, s *Store, k latchkey.ConnectionKey, within time.Duration, what string, cond func(latchkey.Connection, error) bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := s.GetConnection(context.Background(), k)
		if cond(c, err) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: got version %d, token %q, error %v after %v", what, c.Version, c.Values["access_token"], err, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCachePostgresReplicas: two stores on one schema, as two replicas.
// What A writes, B sees within a second, though B had it cached.
func TestCachePostgresReplicas(t *testing.T) {
	url := storetest.PostgresURL(t)
	ring := cacheRing(t)
	a := openCached(t, Config{URL: url, Keyring: ring})
	b := openCached(t, Config{URL: url, Keyring: ring})
	k := cacheFixture(t, a)

	readCached(t, b, k)
	v := setToken(t, a, k, "at-2")
	eventually(t, b, k, time.Second, "B after A's update", func(c latchkey.Connection, err error) bool {
		return err == nil && c.Version == v && c.Values["access_token"] == "at-2"
	})

	// The worker's claim takes a refresh lease with a new version: B sees
	// it.
	expiring, err := a.UpdateConnection(context.Background(), k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.ExpiresAt = time.Now().Add(time.Minute)
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, b, k, time.Second, "B after A set an expiry", func(c latchkey.Connection, err error) bool {
		return err == nil && c.Version == expiring.Version
	})
	readCached(t, b, k)
	claimed, _, err := a.ClaimRefreshes(context.Background(), time.Now(), time.Now().Add(time.Hour), 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimRefreshes: got %d claimed, %v, want 1", len(claimed), err)
	}
	eventually(t, b, k, time.Second, "B after A's claim", func(c latchkey.Connection, err error) bool {
		return err == nil && c.Version == claimed[0].Conn.Version && !c.RefreshingUntil.IsZero()
	})

	readCached(t, b, k)
	if err := a.DeleteConnection(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	eventually(t, b, k, time.Second, "B after A's delete", func(c latchkey.Connection, err error) bool {
		return errors.Is(err, store.ErrNotFound)
	})
}

// TestCacheForgetsOnLockedRead: replica B still caches a version older
// than another replica's write (its notification has not arrived yet).
// An UpdateConnection through B reads the newer one under the lock and,
// even when it writes nothing (the engine found the token fresh, or
// leased by another caller), makes B forget its stale copy: the next read
// through B sees at least what it read under the lock, never the expired
// token again.
func TestCacheForgetsOnLockedRead(t *testing.T) {
	url := storetest.PostgresURL(t)
	ring := cacheRing(t)
	a := openCached(t, Config{URL: url, Keyring: ring})
	b := openCached(t, Config{URL: url, Keyring: ring})
	k := cacheFixture(t, a)
	stale := readCached(t, b, k)
	v := setToken(t, a, k, "at-2")
	eventually(t, b, k, time.Second, "B after A's update", func(c latchkey.Connection, err error) bool {
		return err == nil && c.Version == v
	})
	// The notification as if still on its way: B holds the old version.
	b.cache.forgetKeys(k)
	_, gen, _ := b.cache.get(latchkey.DefaultEnvironment, k)
	b.cache.put(latchkey.DefaultEnvironment, stale, gen)
	if c, err := b.GetConnection(context.Background(), k); err != nil || c.Version != stale.Version {
		t.Fatalf("set-up: got version %d (%v) through B, want the stale %d", c.Version, err, stale.Version)
	}

	errFresh := errors.New("fresh")
	var seen latchkey.Connection
	_, err := b.UpdateConnection(context.Background(), k, func(c latchkey.Connection) (latchkey.Connection, error) {
		seen = c
		return c, errFresh
	})
	if !errors.Is(err, errFresh) || seen.Version != v || seen.Values["access_token"] != "at-2" {
		t.Fatalf("UpdateConnection through B: got version %d, token %q, %v, want version %d, at-2 read under the lock", seen.Version, seen.Values["access_token"], err, v)
	}
	if c, err := b.GetConnection(context.Background(), k); err != nil || c.Version != v || c.Values["access_token"] != "at-2" {
		t.Fatalf("GetConnection through B after its locked read: got version %d, token %q, %v, want %d, at-2", c.Version, c.Values["access_token"], err, v)
	}
}

// TestCachePostgresBatchWrite: the worker's batch write changes hundreds of
// connections in one statement, whose keys reach the other replicas in a
// few notifications (each under PostgreSQL's 8,000 bytes): B forgets every
// one. A key too long for a notification makes B empty its cache instead.
func TestCachePostgresBatchWrite(t *testing.T) {
	url := storetest.PostgresURL(t)
	ring := cacheRing(t)
	a := openCached(t, Config{URL: url, Keyring: ring})
	b := openCached(t, Config{URL: url, Keyring: ring})
	ctx := context.Background()
	cacheFixture(t, a)
	long := strings.Repeat("x", 800) // its key's JSON is over 700 bytes
	var conns []latchkey.Connection
	for i := range 300 {
		user := fmt.Sprintf("user-%03d-with-a-name-long-enough-to-need-several-notifications", i)
		if i == 299 {
			user = long
		}
		c, err := a.PutConnection(ctx, latchkey.Connection{
			ConnectionKey: latchkey.ConnectionKey{App: "demo", Org: "acme", User: user, Config: "main"},
			Status:        latchkey.StatusActive, Values: map[string]string{"access_token": "old"}})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	write := func(conns []latchkey.Connection, token string) {
		t.Helper()
		for i := range conns {
			conns[i].Values = map[string]string{"access_token": token}
		}
		errs, err := a.WriteRefreshes(ctx, conns)
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("WriteRefreshes: connection %d: %v", i, err)
			}
			conns[i].Version++
		}
	}
	seen := func(conns []latchkey.Connection, token string) {
		t.Helper()
		for _, c := range conns {
			eventually(t, b, c.ConnectionKey, time.Second, "B after A's batch write", func(got latchkey.Connection, err error) bool {
				return err == nil && got.Values["access_token"] == token
			})
		}
	}

	short := conns[:299]
	for _, c := range short {
		readCached(t, b, c.ConnectionKey)
	}
	write(short, "new")
	seen(short, "new")

	alice := latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "main"}
	readCached(t, b, alice)
	write(conns[299:], "new")
	for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, _, cached := b.cache.get(latchkey.DefaultEnvironment, alice); !cached {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B after a key too long to notify: got alice's connection still cached after 1s, want the cache emptied")
		}
	}
	seen(conns[299:], "new")
}

// TestCachePostgresListenerKilled kills the listener's connection: the
// cache turns off and empties at once, reads go to the database (so a write
// whose notification was lost is seen), and the listener reconnects and the
// cache serves again.
func TestCachePostgresListenerKilled(t *testing.T) {
	url := storetest.PostgresURL(t)
	ring := cacheRing(t)
	a := openCached(t, Config{URL: url, Keyring: ring})
	b := openCached(t, Config{URL: url, Keyring: ring})
	k := cacheFixture(t, a)
	readCached(t, b, k)

	pid := b.listener.pid.Load()
	if pid == 0 || !b.cache.isEnabled() {
		t.Fatalf("after Open: got listener pid %d, cache on %v, want a listener and the cache on", pid, b.cache.isEnabled())
	}
	var killed bool
	if err := a.DB().Raw("SELECT pg_terminate_backend(?)", pid).Scan(&killed).Error; err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d): got %v, %v, want true", pid, killed, err)
	}
	// Notifications are lost while no one listens: write at once.
	v := setToken(t, a, k, "at-2")
	sawOff := false
	deadline := time.Now().Add(5 * time.Second)
	for {
		if !b.cache.isEnabled() {
			sawOff = true
			if n := b.cache.len(); n != 0 {
				t.Fatalf("with the listener down: got %d cached connections, want none", n)
			}
		}
		if sawOff && b.cache.isEnabled() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after killing the listener: saw the cache off %v, on again %v, within 5s", sawOff, b.cache.isEnabled())
		}
		time.Sleep(time.Millisecond)
	}
	if got := b.listener.pid.Load(); got == 0 || got == pid {
		t.Fatalf("after reconnecting: got listener pid %d, want a new one (was %d)", got, pid)
	}
	c := readCached(t, b, k)
	if c.Version != v || c.Values["access_token"] != "at-2" {
		t.Fatalf("after the listener came back: got version %d token %q, want %d at-2", c.Version, c.Values["access_token"], v)
	}
	// And it listens again.
	v = setToken(t, a, k, "at-3")
	eventually(t, b, k, time.Second, "B after A's update once listening again", func(c latchkey.Connection, err error) bool {
		return err == nil && c.Version == v && c.Values["access_token"] == "at-3"
	})
}

// TestCacheSQLiteOtherProcess: on SQLite only a store's own writes
// invalidate its cache; what another process writes to the file is seen
// once the cached entry is ConnectionCacheMaxAge old.
func TestCacheSQLiteOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	ring := cacheRing(t)
	const maxAge = 200 * time.Millisecond
	a := openCached(t, Config{URL: path, Keyring: ring, ConnectionCacheMaxAge: maxAge})
	b := openCached(t, Config{URL: path, Keyring: ring, ConnectionCacheMaxAge: maxAge})
	k := cacheFixture(t, a)
	before := readCached(t, b, k)
	setToken(t, a, k, "at-2")
	if c, err := b.GetConnection(context.Background(), k); err != nil || c.Version != before.Version {
		t.Fatalf("B at once after A's write: got version %d, %v, want the cached version %d", c.Version, err, before.Version)
	}
	time.Sleep(maxAge)
	if c, err := b.GetConnection(context.Background(), k); err != nil || c.Values["access_token"] != "at-2" {
		t.Fatalf("B after the max age: got token %q, %v, want at-2", c.Values["access_token"], err)
	}
}

// TestCacheBounded fills a small cache past its size: it holds at most its
// size, and every read still returns the right connection.
func TestCacheBounded(t *testing.T) {
	s := openCached(t, Config{URL: filepath.Join(t.TempDir(), "latchkey.db"), Keyring: cacheRing(t), ConnectionCacheSize: 3})
	cacheFixture(t, s)
	ctx := context.Background()
	var ks []latchkey.ConnectionKey
	for i := range 10 {
		k := latchkey.ConnectionKey{App: "demo", Org: "acme", User: fmt.Sprintf("user-%d", i), Config: "main"}
		if _, err := s.PutConnection(ctx, latchkey.Connection{ConnectionKey: k, Status: latchkey.StatusActive,
			Values: map[string]string{"access_token": "at-" + k.User}}); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	for range 3 {
		for _, k := range ks {
			c, err := s.GetConnection(ctx, k)
			if err != nil || c.Values["access_token"] != "at-"+k.User {
				t.Fatalf("GetConnection(%s): got token %q, %v, want at-%s", k.User, c.Values["access_token"], err, k.User)
			}
			if n := s.cache.len(); n > 3 {
				t.Fatalf("got %d cached connections, want at most 3", n)
			}
		}
	}
}

// TestCacheOff: a negative size turns the cache off; reads still work.
func TestCacheOff(t *testing.T) {
	s := openCached(t, Config{URL: filepath.Join(t.TempDir(), "latchkey.db"), Keyring: cacheRing(t), ConnectionCacheSize: -1})
	k := cacheFixture(t, s)
	if s.cache != nil {
		t.Fatalf("with ConnectionCacheSize -1: got a cache, want none")
	}
	setToken(t, s, k, "at-2")
	if c, err := s.GetConnection(context.Background(), k); err != nil || c.Values["access_token"] != "at-2" {
		t.Fatalf("GetConnection: got token %q, %v, want at-2", c.Values["access_token"], err)
	}
}

// TestCacheRacingReadNotKept: a read whose query began before a write's
// invalidation must not put what it read, since the query may have seen the
// row before the write committed.
func TestCacheRacingReadNotKept(t *testing.T) {
	c := newConnCache(10, time.Minute, true)
	k := latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "main"}
	_, gen, _ := c.get(latchkey.DefaultEnvironment, k)                                                                                           // a read misses and queries…
	c.forgetUsers(k)                                                                                                                             // …a write commits and forgets…
	c.put(latchkey.DefaultEnvironment, latchkey.Connection{ConnectionKey: k, Version: 1, Values: map[string]string{"access_token": "old"}}, gen) // …the read's answer comes back
	if got, _, ok := c.get(latchkey.DefaultEnvironment, k); ok {
		t.Fatalf("after a read that raced a write: got version %d cached, want nothing", got.Version)
	}
	_, gen, _ = c.get(latchkey.DefaultEnvironment, k)
	c.put(latchkey.DefaultEnvironment, latchkey.Connection{ConnectionKey: k, Version: 2, Values: map[string]string{"access_token": "new"}}, gen)
	if got, _, ok := c.get(latchkey.DefaultEnvironment, k); !ok || got.Version != 2 {
		t.Fatalf("after a read with no write: got version %d cached %v, want 2", got.Version, ok)
	}
	c.setEnabled(false)
	if _, _, ok := c.get(latchkey.DefaultEnvironment, k); ok {
		t.Fatalf("after turning the cache off: got a cached connection, want none")
	}
	_, gen, _ = c.get(latchkey.DefaultEnvironment, k)
	c.setEnabled(true) // a read that began while it was off…
	c.put(latchkey.DefaultEnvironment, latchkey.Connection{ConnectionKey: k, Version: 3}, gen)
	if _, _, ok := c.get(latchkey.DefaultEnvironment, k); ok {
		t.Fatalf("after a read that began with the cache off: got it cached, want nothing")
	}
}
