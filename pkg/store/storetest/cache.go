package storetest

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// A store may cache what GetConnection reads (sqlstore does). These tests
// hold any such cache to what callers rely on: a store reads its own writes
// at once, whichever write it was, and a connection handed out is the
// caller's own.

// testReadsOwnWrites reads a connection before and after every kind of
// write that changes it, and expects each write to show at once.
func testReadsOwnWrites(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	mustPutApp(t, s, "other")
	k := key("demo", "acme", "alice", "main")
	read := func(what string) latchkey.Connection {
		t.Helper()
		c, err := s.GetConnection(ctx, k)
		if err != nil {
			t.Fatalf("GetConnection after %s: %v", what, err)
		}
		return c
	}
	v1 := mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1", "refresh_token": "rt-1"}))
	read("PutConnection")
	read("a second read")

	v2, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.Values = map[string]string{"access_token": "at-2", "refresh_token": "rt-2"}
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read("UpdateConnection of the values"); got.Version != v2.Version || got.Version == v1.Version || got.Values["access_token"] != "at-2" {
		t.Fatalf("after UpdateConnection: got version %d token %q, want version %d at-2", got.Version, got.Values["access_token"], v2.Version)
	}

	v3, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.Failures, c.LastError = 2, "provider down"
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read("UpdateConnection of the row alone"); got.Version != v3.Version || got.Failures != 2 || got.LastError != "provider down" {
		t.Fatalf("after UpdateConnection of the row: got version %d failures %d, want version %d failures 2", got.Version, got.Failures, v3.Version)
	}

	next := conn(k, map[string]string{"access_token": "at-4"})
	next.Version = v3.Version
	v4 := mustPutConn(t, s, next)
	if got := read("PutConnection over it"); got.Version != v4.Version {
		t.Fatalf("after PutConnection: got version %d, want %d", got.Version, v4.Version)
	} else {
		wantValues(t, "after PutConnection", got.Values, map[string]string{"access_token": "at-4"})
	}

	// A value another connection of the user takes leaves this one.
	other := key("demo", "acme", "alice", "second")
	mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-5", "shared": "s-1"}))
	read("a value to share")
	mustPutConn(t, s, conn(other, map[string]string{"shared": "s-2"}))
	wantValues(t, "after another connection took a value", read("another connection took a value").Values, map[string]string{"access_token": "at-5"})

	if err := s.DeleteConnection(ctx, k); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetConnection(ctx, k)
	wantErr(t, "GetConnection after DeleteConnection", err, store.ErrNotFound)

	// Deleting an installation or an app deletes the connections under it.
	mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-6"}))
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme"}); err != nil {
		t.Fatal(err)
	}
	read("a new connection")
	if err := s.DeleteInstallation(ctx, "demo", "acme"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetConnection(ctx, k)
	wantErr(t, "GetConnection after DeleteInstallation", err, store.ErrNotFound)

	ko := key("other", "acme", "alice", "main")
	mustPutConn(t, s, conn(ko, map[string]string{"access_token": "at-7"}))
	if _, err := s.GetConnection(ctx, ko); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetConnection(ctx, ko)
	wantErr(t, "GetConnection after DeleteApp", err, store.ErrNotFound)
}

// testReadersAndWriters runs readers and writers of a few connections at
// once (run it under -race) and expects every reader to see whole versions
// (the values written with a version, never another's) and everyone to see
// the last write once the writers are done.
func testReadersAndWriters(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	const (
		conns   = 3
		writers = 4
		writes  = 15
		readers = 8
	)
	ks := make([]latchkey.ConnectionKey, conns)
	for i := range ks {
		ks[i] = key("demo", "acme", fmt.Sprintf("user-%d", i), "main")
		mustPutConn(t, s, conn(ks[i], map[string]string{"access_token": "at-1", "version": "1"}))
	}
	var (
		wg   sync.WaitGroup
		done atomic.Bool
	)
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				k := ks[(w+i)%conns]
				_, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
					next := fmt.Sprint(c.Version + 1)
					c.Values = map[string]string{"access_token": "at-" + next, "version": next}
					return c, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	for r := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for i := 0; !done.Load(); i++ {
				c, err := s.GetConnection(ctx, ks[(r+i)%conns])
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprint(c.Version); c.Values["version"] != want || c.Values["access_token"] != "at-"+want {
					errs <- fmt.Errorf("read version %d with the values of version %q", c.Version, c.Values["version"])
					return
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := int64(0)
	for _, k := range ks {
		c, err := s.GetConnection(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.Version; c.Values["version"] != fmt.Sprint(want) {
			t.Fatalf("last read of %s: got the values of version %q with version %d", k.User, c.Values["version"], want)
		}
		total += c.Version - 1 // every write adds one
	}
	if total != writers*writes {
		t.Fatalf("after %d writes: got the versions of %d writes in the last reads, want all of them", writers*writes, total)
	}
}

// testReturnedConnectionIsOwn changes what GetConnection returned and
// expects the next read to be unchanged.
func testReturnedConnectionIsOwn(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	k := key("demo", "acme", "alice", "main")
	want := mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1", "refresh_token": "rt-1"}))
	for range 2 { // the first read may fill a cache, the second read from it
		got, err := s.GetConnection(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		got.Values["access_token"] = "changed"
		delete(got.Values, "refresh_token")
		got.Values["extra"] = "x"
		got.Status, got.Version = latchkey.StatusNeedsReauth, 99
	}
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != want.Status || got.Version != want.Version {
		t.Fatalf("after changing a returned connection: got status %q version %d, want %q %d", got.Status, got.Version, want.Status, want.Version)
	}
	wantValues(t, "after changing a returned connection", got.Values, map[string]string{"access_token": "at-1", "refresh_token": "rt-1"})
	if maps.Equal(got.Values, want.Values) {
		got.Values["access_token"] = "again"
		if again, _ := s.GetConnection(ctx, k); again.Values["access_token"] != "at-1" {
			t.Fatalf("after changing a returned connection: got another token, want at-1")
		}
	}
}
