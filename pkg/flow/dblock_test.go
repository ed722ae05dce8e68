package flow_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// The database is briefly locked by another writer: a batch job, a backup,
// a migration on another replica. The lock is taken either before an
// expired token is read by many callers, or exactly while the provider is
// answering a refresh, so that the write of the answer meets it. Each case
// must end with one refresh at the provider, every caller holding the new
// token, and the provider's newest refresh token stored: with a rotating
// provider, an answer not stored is a connection lost.

// dbLocker holds a write lock on a database from outside the store, on a
// connection of its own, the way another process would.
type dbLocker struct {
	// begin takes the lock on conn; the lock lasts until rollback.
	begin func(ctx context.Context, conn *sql.Conn) error
	db    *sql.DB
}

// sqliteLocker locks the SQLite file at path with BEGIN IMMEDIATE: every
// other writer waits for its busy_timeout, then fails "database is locked";
// readers (WAL) go on.
func sqliteLocker(t *testing.T, path string) *dbLocker {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &dbLocker{db: db, begin: func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		return err
	}}
}

// postgresLocker locks the connections table with ACCESS EXCLUSIVE: every
// other statement on it, reads included, waits (until its lock_timeout).
func postgresLocker(t *testing.T, dsn string) *dbLocker {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &dbLocker{db: db, begin: func(ctx context.Context, conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "LOCK TABLE connections IN ACCESS EXCLUSIVE MODE")
		return err
	}}
}

// hold takes the lock now and releases it after d; the channel gives the
// time the release was sent.
func (l *dbLocker) hold(t *testing.T, d time.Duration) (released <-chan time.Time) {
	t.Helper()
	ctx := context.Background()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		t.Errorf("locker: %v", err)
		return nil
	}
	if err := l.begin(ctx, conn); err != nil {
		conn.Close()
		t.Errorf("locker: taking the lock: %v", err)
		return nil
	}
	out := make(chan time.Time, 1)
	time.AfterFunc(d, func() {
		// The time the release is sent: the database frees the lock as it
		// runs the ROLLBACK, before its answer arrives here, so a waiter may
		// reach the provider before ExecContext returns.
		sent := time.Now()
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("locker: releasing the lock: %v", err)
		}
		conn.Close()
		out <- sent
	})
	return out
}

// syncBuffer is a bytes.Buffer safe for the engine's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lockEnv is an engine on the store at dsn (tuned by tune when not nil),
// with a rotating provider, the generic app installed and alice connected,
// her token expired; the engine logs into the returned buffer.
func lockEnv(t *testing.T, dsn string, maxConns int, tune func(*sqlstore.Store)) (*env, *providertest.Provider, *syncBuffer) {
	t.Helper()
	key, _ := secretbox.GenerateKey()
	ring, _ := secretbox.NewKeyring(key)
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: dsn, Keyring: ring, MaxOpenConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if tune != nil {
		tune(st)
	}
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	p := providertest.New(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, Now: clock.Now})
	logs := &syncBuffer{}
	eng := flow.New(flow.Config{Store: st, Now: clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect",
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	e := &env{tb: t, ctx: context.Background(), engine: eng, store: st, clock: clock}
	e.save(genericApp(p.BaseURL()))
	e.install("crm", "acme", map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()})
	e.mustConnect(p, alice)
	clock.Advance(2 * time.Hour)
	return e, p, logs
}

// wantNewestStored fails unless alice's stored refresh token is a new one
// the provider accepts (with rotation, the only one alive) and her stored
// access token is token.
func wantNewestStored(t *testing.T, e *env, p *providertest.Provider, oldRT, token string) {
	t.Helper()
	conn, err := e.store.GetConnection(e.ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	rt := conn.Values["refresh_token"]
	if rt == oldRT || !p.ValidRefreshToken(rt) || p.ValidRefreshToken(oldRT) {
		t.Fatalf("stored refresh token: the old one %v, accepted by the provider %v; want the provider's newest", rt == oldRT, p.ValidRefreshToken(rt))
	}
	if conn.Values["access_token"] != token || conn.Status != latchkey.StatusActive || !conn.RefreshingUntil.IsZero() {
		t.Fatalf("stored: got status %q, the callers' token %v, lease %v; want active with it and no lease",
			conn.Status, conn.Values["access_token"] == token, conn.RefreshingUntil)
	}
}

// lockedWhileReading: the lock is taken, 50 callers read the expired token,
// and the lock is released after 300 ms. The refresh must happen once,
// after the release (the lease's write waited for it), and every caller
// gets its token.
func lockedWhileReading(t *testing.T, e *env, p *providertest.Provider, lock *dbLocker) {
	oldRT := mustRefreshToken(t, e)
	var arrived atomic.Int64
	p.OnRequest(func(r providertest.Request) {
		if r.Endpoint == providertest.EndpointRefresh {
			arrived.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	released := lock.hold(t, 300*time.Millisecond)
	if released == nil {
		t.FailNow()
	}
	readConcurrently(t, []*flow.Engine{e.engine}, alice, 50, p)
	at := <-released
	if got := p.RefreshCalls(); got != 1 {
		t.Fatalf("got %d refreshes at the provider, want exactly 1", got)
	}
	if a := time.Unix(0, arrived.Load()); a.Before(at) {
		t.Fatalf("the refresh reached the provider %v before the lock was released, want after: the lock did not hold", at.Sub(a))
	}
	conn, _ := e.engine.Token(e.ctx, alice)
	wantNewestStored(t, e, p, oldRT, conn.Values["access_token"])
}

// lockedWhileAnswering: the lock is taken the moment the refresh reaches
// the provider and held for hold, longer than the store waits for a lock,
// so that the write of the answer fails at first. The engine must retry it
// until the lock is gone: the answer stored, nothing lost.
func lockedWhileAnswering(t *testing.T, e *env, p *providertest.Provider, lock *dbLocker, logs *syncBuffer, hold time.Duration) {
	oldRT := mustRefreshToken(t, e)
	var mu sync.Mutex
	var released <-chan time.Time
	p.OnRequest(func(r providertest.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Endpoint == providertest.EndpointRefresh && released == nil {
			released = lock.hold(t, hold)
		}
	})
	start := time.Now()
	conn, err := e.engine.Token(e.ctx, alice)
	if err != nil {
		t.Fatalf("read: got %v, want the new token once the lock is gone", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if released == nil {
		t.Fatal("the lock was never taken")
	}
	at := <-released
	if at.Before(start) || p.RefreshCalls() != 1 || !p.ValidAccessToken(conn.Values["access_token"]) {
		t.Fatalf("got %d refreshes and a valid token %v, want 1 refresh and its token", p.RefreshCalls(), p.ValidAccessToken(conn.Values["access_token"]))
	}
	if !strings.Contains(logs.String(), "storing a refresh answer failed; retrying") {
		t.Fatalf("the write of the answer never met the lock (no retry logged); logs:\n%s", logs)
	}
	wantNewestStored(t, e, p, oldRT, conn.Values["access_token"])
	// And a later read is served from the store, without a refresh.
	if again, err := e.engine.Token(e.ctx, alice); err != nil || again.Values["access_token"] != conn.Values["access_token"] || p.RefreshCalls() != 1 {
		t.Fatalf("next read: got %v, the same token %v, %d refreshes; want the stored token and no refresh", err,
			again.Values["access_token"] == conn.Values["access_token"], p.RefreshCalls())
	}
}

func mustRefreshToken(t *testing.T, e *env) string {
	t.Helper()
	conn, err := e.store.GetConnection(e.ctx, alice)
	if err != nil || conn.Values["refresh_token"] == "" {
		t.Fatalf("alice's refresh token: %v", err)
	}
	return conn.Values["refresh_token"]
}

func TestSQLiteBrieflyLockedWhileReadingRefreshesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	e, p, _ := lockEnv(t, path, 0, nil)
	lockedWhileReading(t, e, p, sqliteLocker(t, path))
}

// impatientSQLite is lockEnv on SQLite with a locker of its file. The store
// waits 15 s for the write lock; this one has one connection whose
// busy_timeout is set to 100 ms, so that a lock held for 600 ms makes the
// first writes of an answer fail "database is locked".
func impatientSQLite(t *testing.T) (*env, *providertest.Provider, *syncBuffer, *dbLocker) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	e, p, logs := lockEnv(t, path, 1, func(st *sqlstore.Store) {
		if err := st.DB().Exec("PRAGMA busy_timeout = 100").Error; err != nil {
			t.Fatal(err)
		}
	})
	return e, p, logs, sqliteLocker(t, path)
}

// impatientPostgreSQL is lockEnv on PostgreSQL with a locker of its
// schema: the store's sessions get a lock_timeout of 100 ms, so that a
// table locked for 600 ms makes the first writes of an answer fail with a
// lock timeout (55P03).
func impatientPostgreSQL(t *testing.T) (*env, *providertest.Provider, *syncBuffer, *dbLocker) {
	dsn := storetest.PostgresURL(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("lock_timeout", "100")
	u.RawQuery = q.Encode()
	e, p, logs := lockEnv(t, u.String(), 0, nil)
	return e, p, logs, postgresLocker(t, dsn)
}

func TestSQLiteLockedWhileTheProviderAnswersKeepsTheAnswer(t *testing.T) {
	e, p, logs, lock := impatientSQLite(t)
	lockedWhileAnswering(t, e, p, lock, logs, 600*time.Millisecond)
}

func TestPostgreSQLBrieflyLockedWhileReadingRefreshesOnce(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	e, p, _ := lockEnv(t, dsn, 0, nil)
	lockedWhileReading(t, e, p, postgresLocker(t, dsn))
}

func TestPostgreSQLLockedWhileTheProviderAnswersKeepsTheAnswer(t *testing.T) {
	e, p, logs, lock := impatientPostgreSQL(t)
	lockedWhileAnswering(t, e, p, lock, logs, 600*time.Millisecond)
}

// lockedWhileTheWorkerWaits is lockedWhileAnswering for the refresh worker:
// the lock is taken the moment the worker's refresh reaches the provider,
// so its batch write of the answer meets it; the answer must be stored once
// the lock is gone.
func lockedWhileTheWorkerWaits(t *testing.T, e *env, p *providertest.Provider, lock *dbLocker, logs *syncBuffer, hold time.Duration) {
	oldRT := mustRefreshToken(t, e)
	var mu sync.Mutex
	var released <-chan time.Time
	p.OnRequest(func(r providertest.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Endpoint == providertest.EndpointRefresh && released == nil {
			released = lock.hold(t, hold)
		}
	})
	if n, err := (&flow.Worker{Engine: e.engine}).RunOnce(e.ctx); err != nil || n != 1 {
		t.Fatalf("worker round: claimed %d (%v), want alice's connection", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if released == nil {
		t.Fatal("the lock was never taken")
	}
	<-released
	if !strings.Contains(logs.String(), "storing a refresh answer failed; retrying") {
		t.Fatalf("the worker's write never met the lock (no retry logged); logs:\n%s", logs)
	}
	conn, err := e.store.GetConnection(e.ctx, alice)
	if err != nil || p.RefreshCalls() != 1 || !p.ValidAccessToken(conn.Values["access_token"]) {
		t.Fatalf("got %v, %d refreshes, a valid token %v; want 1 refresh and its token stored", err, p.RefreshCalls(),
			p.ValidAccessToken(conn.Values["access_token"]))
	}
	wantNewestStored(t, e, p, oldRT, conn.Values["access_token"])
}

func TestSQLiteLockedWhileTheWorkerWaitsForTheProviderKeepsTheAnswer(t *testing.T) {
	e, p, logs, lock := impatientSQLite(t)
	lockedWhileTheWorkerWaits(t, e, p, lock, logs, 600*time.Millisecond)
}

func TestPostgreSQLLockedWhileTheWorkerWaitsForTheProviderKeepsTheAnswer(t *testing.T) {
	e, p, logs, lock := impatientPostgreSQL(t)
	lockedWhileTheWorkerWaits(t, e, p, lock, logs, 600*time.Millisecond)
}
