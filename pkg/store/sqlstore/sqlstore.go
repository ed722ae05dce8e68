package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/latchkey/latchkey/migrations"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
)

// DefaultSQLiteFile is the database file Open uses when Config.URL is empty,
// relative to the working folder.
const DefaultSQLiteFile = "latchkey.db"

// busyTimeout is how long a SQLite writer waits for the write lock.
const busyTimeout = 15 * time.Second

// Config says which database Open opens and how values are sealed.
type Config struct {
	// URL selects the database: "" (DefaultSQLiteFile), a file path, or
	// "sqlite:///path/to/latchkey.db" for SQLite; "postgres://…" or
	// "postgresql://…" for PostgreSQL (any libpq/pgx URL parameter, such as
	// sslmode or search_path, is passed on).
	URL string
	// Keyring seals and opens the encrypted columns. Required.
	Keyring *secretbox.Keyring
	// Logger receives the store's own messages (migrations applied). It is
	// optional. SQL statements are never logged, since their arguments may
	// be secrets.
	Logger *slog.Logger
	// MaxOpenConns bounds the connections the store opens: callers beyond it
	// wait for one. Zero means DefaultMaxOpenConns. Several replicas on one
	// PostgreSQL server must stay under its max_connections together.
	MaxOpenConns int
	// ConnectionCacheSize bounds the read cache of GetConnection, in
	// connections. Zero means DefaultConnectionCacheSize; a negative size
	// turns the cache off. See Store for what the cache guarantees.
	ConnectionCacheSize int
	// ConnectionCacheMaxAge is how long a cached connection is served at
	// most, whatever the invalidations say. Zero means
	// DefaultConnectionCacheMaxAge.
	ConnectionCacheMaxAge time.Duration
}

// DefaultMaxOpenConns is the connection pool's bound when Config leaves it
// zero: enough for a busy replica, a fifth of PostgreSQL's default
// max_connections of 100.
const DefaultMaxOpenConns = 20

// Store is a store.Store on SQLite or PostgreSQL. It is safe for concurrent
// use.
//
// GetConnection is served from a bounded in-memory cache of decrypted
// connections (Config.ConnectionCacheSize, Config.ConnectionCacheMaxAge),
// since it is the read of every token request. Every write of this Store
// to a connection or to the values it owns makes the cache forget the
// connection when it commits, before it returns, so this Store reads its own
// writes; a read that raced a write never caches what it read. Callers get
// their own copy of each connection.
//
// On PostgreSQL, triggers NOTIFY every change of a connection (that is,
// every new version, not a worker's claim of a lease) and of the values it
// owns, on channel latchkey_connections, and each Store LISTENs on a
// connection of its own and forgets what the others wrote, within the
// notification's latency: replicas on one database stay in step. While the
// listener is not listening (before its first LISTEN, and from a failure of
// its connection until it has reconnected) the cache is off and empty.
//
// On SQLite, the embedded single-process default, only this Store's own
// writes invalidate: another process (or another Store) writing the same
// file is seen once the cached entry reaches its max age.
type Store struct {
	*shared
	// env is the environment this view of the store is bound to (In), ""
	// for the root, whose callers say theirs in their context.
	env latchkey.Environment
}

// shared is what every view of one store (In) shares.
type shared struct {
	db       *gorm.DB
	ring     atomic.Pointer[secretbox.Keyring]
	log      *slog.Logger
	postgres bool
	// getConn is GetConnection's query, prepared once: it is the query of
	// every token read.
	getConn *sql.Stmt
	// auditFull is AppendAudit's INSERT of a full chunk of rows, prepared
	// once: SQLite's parse of its thousands of placeholders cost as much
	// as the insert itself, on every batch of the proxy's audit events.
	auditFull *sql.Stmt
	// cache is GetConnection's read cache, nil when it is off; listener
	// keeps it in step with other replicas on PostgreSQL.
	cache    *connCache
	listener *cacheListener
	// writer is the writer slot of SQLite transactions (writerSlot).
	writer chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens the database cfg.URL names, applies the migrations it lacks
// (each in a transaction; on PostgreSQL under an advisory lock, so replicas
// starting together migrate once) and returns the ready store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Keyring == nil {
		return nil, errors.New("sqlstore: a keyring is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		dialector gorm.Dialector
		dialect   goose.Dialect
		dir       string
		pg        bool
	)
	switch u := cfg.URL; {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		dialector, dialect, dir, pg = postgres.Open(u), goose.DialectPostgres, "postgres", true
	default:
		dsn, err := sqliteDSN(u)
		if err != nil {
			return nil, err
		}
		dialector, dialect, dir = sqlite.Open(dsn), goose.DialectSQLite3, "sqlite"
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return utc(time.Now()) },
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening the %s database: %w", dir, redactURL(err, cfg.URL))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	maxConns := cfg.MaxOpenConns
	if maxConns <= 0 {
		maxConns = DefaultMaxOpenConns
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{shared: &shared{db: db, log: log, postgres: pg, writer: make(chan struct{}, 1)}}
	s.ring.Store(cfg.Keyring)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: connecting to the %s database: %w", dir, redactURL(err, cfg.URL))
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	// Out of order: a migration numbered below one a database already has
	// (00008, written after 00009) is applied rather than refused.
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true)}
	if pg {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, sqlDB, sub, opts...)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: reading the migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: migrating the %s database: %w", dir, err)
	}
	for _, r := range results {
		log.Info("database migrated", "dialect", dir, "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	if s.getConn, err = sqlDB.PrepareContext(ctx, getConnectionSQL); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: preparing the connection query: %w", err)
	}
	if s.auditFull, err = sqlDB.PrepareContext(ctx, auditInsert(auditRowsPerInsert, pg)); err != nil {
		s.getConn.Close()
		sqlDB.Close()
		return nil, fmt.Errorf("sqlstore: preparing the audit insert: %w", err)
	}
	if cfg.ConnectionCacheSize >= 0 {
		size, maxAge := cfg.ConnectionCacheSize, cfg.ConnectionCacheMaxAge
		if size == 0 {
			size = DefaultConnectionCacheSize
		}
		if maxAge <= 0 {
			maxAge = DefaultConnectionCacheMaxAge
		}
		// On PostgreSQL the cache stays off until the listener listens.
		s.cache = newConnCache(size, maxAge, !pg)
		if pg {
			s.listener = startListener(ctx, cfg.URL, s.cache, log)
		}
	}
	return s, nil
}

// sqliteDSN turns a SQLite URL or path into a go-sqlite3 DSN with WAL, a busy
// timeout, foreign keys and IMMEDIATE transactions, creating the file (mode
// 0600) and its folder (0700) when they do not exist.
func sqliteDSN(u string) (string, error) {
	path := u
	if after, ok := strings.CutPrefix(path, "sqlite://"); ok {
		path = after
	} else if after, ok := strings.CutPrefix(path, "sqlite:"); ok {
		path = after
	}
	if path == "" {
		path = DefaultSQLiteFile
	}
	if strings.Contains(path, "?") || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return "", fmt.Errorf("sqlstore: the SQLite database must be a plain file path, got %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("sqlstore: creating the database folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("sqlstore: opening the database file: %w", err)
	}
	f.Close()
	params := fmt.Sprintf("_journal_mode=WAL&_busy_timeout=%d&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL",
		busyTimeout.Milliseconds())
	return path + "?" + params, nil
}

// redactURL keeps a password in the database URL out of an error's text.
func redactURL(err error, u string) error {
	if err == nil || !strings.Contains(u, "@") {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), u, "<database URL>"))
}

// SetKeyring replaces the keyring that seals and opens values, atomically:
// every seal and open after it returns uses the new ring, so a running server
// can take new keys without a restart. To rotate, give a ring whose primary
// is the new key and which still holds the old ones, run Rotate, and only
// then a ring without the old keys. A nil keyring is ignored. The
// connection cache is emptied, so that what is read next is opened with the
// new ring.
func (s *Store) SetKeyring(k *secretbox.Keyring) {
	if k != nil {
		s.ring.Store(k)
		if s.cache != nil {
			s.cache.flush()
		}
	}
}

// DB returns the underlying gorm handle, for tests and benchmarks only.
func (s *Store) DB() *gorm.DB { return s.db }

// Close stops the cache's listener and closes the database.
func (s *Store) Close() error {
	if s.listener != nil {
		s.listener.stop()
	}
	if s.getConn != nil {
		s.getConn.Close()
	}
	if s.auditFull != nil {
		s.auditFull.Close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// tx runs fn in one transaction: IMMEDIATE on SQLite, so that it holds the
// write lock from BEGIN; READ COMMITTED on PostgreSQL. fn's error is returned
// as it is, and nothing fn wrote is kept.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	release, err := s.writerSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.db.WithContext(ctx).Transaction(fn)
}

// errWriterBusy is what a SQLite transaction gets when another of the same
// process held the writer slot for the whole busy timeout, as SQLite
// answers "database is locked" to one that waits that long for another
// process.
var errWriterBusy = fmt.Errorf("sqlstore: database is locked: another transaction of this process held it for %v", busyTimeout)

// writerSlot takes the store's writer slot on SQLite and returns its
// release; on PostgreSQL it does nothing. Every SQLite transaction is a
// writer (BEGIN IMMEDIATE) and only one runs at a time: one that finds
// another running waits in SQLite's busy handler, which sleeps for 1, 2,
// 5, 10… milliseconds before it looks again. Transactions of one process
// wait for each other on this slot instead, each woken as soon as the one
// before it ends (the refresh worker's claims and group commits, which
// alternate, ran at two thirds of the speed in the busy handler). Other
// processes on the same file still meet the busy handler. A wait ends with
// ctx, or after busyTimeout with errWriterBusy.
func (s *Store) writerSlot(ctx context.Context) (release func(), err error) {
	if s.postgres {
		return func() {}, nil
	}
	release = func() { <-s.writer }
	select {
	case s.writer <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(busyTimeout)
	defer t.Stop()
	select {
	case s.writer <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errWriterBusy
	}
}

// forUpdate adds FOR UPDATE to a query on PostgreSQL. On SQLite the
// IMMEDIATE transaction already excludes every other writer.
func (s *Store) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// find loads at most one row into dst and reports whether there was one.
func find(q *gorm.DB, dst any) (bool, error) {
	res := q.Limit(1).Find(dst)
	return res.RowsAffected == 1, res.Error
}

// fail wraps a database error with what the store was doing. Domain errors
// pass through; a duplicate key is ErrConflict.
func fail(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var le *latchkey.Error
	if errors.As(err, &le) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return latchkey.WrapError(latchkey.ECONFLICT, err, "%s: it exists already", what)
	}
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return latchkey.WrapError(latchkey.ENOTFOUND, err, "%s: the app it belongs to does not exist", what)
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

func notFound(format string, args ...any) error {
	return latchkey.Errorf(latchkey.ENOTFOUND, format, args...)
}

// ad returns the associated data binding a sealed value to its row: the JSON
// array of its parts, so that no two rows share it whatever their names hold.
func ad(parts ...string) []byte {
	b, _ := json.Marshal(parts)
	return b
}

// seal encrypts plain for the row the ad parts name, with the current
// keyring.
func (s *Store) seal(plain string, parts ...string) (string, error) {
	return sealWith(s.ring.Load(), plain, parts...)
}

func sealWith(ring *secretbox.Keyring, plain string, parts ...string) (string, error) {
	ct, err := ring.Encrypt([]byte(plain), ad(parts...))
	if err != nil {
		return "", fmt.Errorf("sqlstore: %w", err)
	}
	return ct, nil
}

// open decrypts a sealed value of the row the ad parts name, with the
// current keyring; what names the value in the error.
func (s *Store) open(ct, what string, parts ...string) (string, error) {
	return openWith(s.ring.Load(), ct, what, parts...)
}

func openWith(ring *secretbox.Keyring, ct, what string, parts ...string) (string, error) {
	plain, err := ring.Decrypt(ct, ad(parts...))
	if err != nil {
		return "", latchkey.WrapError(latchkey.EINTERNAL, err, "%s cannot be decrypted: %v", what, err)
	}
	return string(plain), nil
}

// hashHex returns the SHA-256 of a link token or state, in hex: what the
// store keeps instead of it.
func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// utc returns t in UTC to the microsecond (PostgreSQL's precision), so both
// dialects give back what they were given.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := utc(t)
	return &u
}

func fromPtr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return utc(*t)
}

func (s *Store) now() time.Time { return utc(time.Now()) }

func connName(k latchkey.ConnectionKey) string {
	if k.User == "" {
		return fmt.Sprintf("%s/%s (org)/%s", k.App, k.Org, k.Config)
	}
	return fmt.Sprintf("%s/%s/%s/%s", k.App, k.Org, k.User, k.Config)
}

// In returns a view of the store bound to env: its reads and writes are
// env's, whatever their context says (a context naming another environment
// is refused). Views share the database, keys and caches.
func (s *Store) In(env latchkey.Environment) store.Store {
	return &Store{shared: s.shared, env: env}
}

// Environment returns the environment the view is bound to, "" for the
// root store.
func (s *Store) Environment() latchkey.Environment { return s.env }

// envOf returns the environment a call works in: the view's, or else the
// one ctx says; a call naming two different ones is refused. A call that
// says none works in latchkey.DefaultEnvironment: the callers that do not
// say theirs yet (the HTTP API's routes, the CLI, the background work) keep
// the one namespace they had before environments.
func (s *Store) envOf(ctx context.Context) (latchkey.Environment, error) {
	env := latchkey.EnvironmentFrom(ctx)
	switch {
	case s.env != "" && env != "" && env != s.env:
		return "", latchkey.Errorf(latchkey.ENOTFOUND, "environment %q not found", env)
	case s.env != "":
		return s.env, nil
	case env == "":
		return latchkey.DefaultEnvironment, nil
	}
	return env, nil
}

// envAD returns the associated-data parts of a value of env: the legacy
// environment's values name none (they were sealed before environments,
// and are opened so without a re-seal); every other one's end with
// ["env", env], so a value copied to another environment's row fails to
// decrypt.
func envAD(env latchkey.Environment, parts ...string) []string {
	if env == latchkey.LegacyEnvironment {
		return parts
	}
	return append(parts, "env", string(env))
}

// lookupEnv returns the environment of a call that may say none: a lookup
// by an unguessable token (a link, a state, an install link, an API key's
// id), whose row says its environment, or pruning, which covers every
// environment. "" means any.
func (s *Store) lookupEnv(ctx context.Context) (latchkey.Environment, error) {
	env := latchkey.EnvironmentFrom(ctx)
	if s.env != "" && env != "" && env != s.env {
		return "", latchkey.Errorf(latchkey.ENOTFOUND, "environment %q not found", env)
	}
	if s.env != "" {
		return s.env, nil
	}
	return env, nil
}

// inEnv narrows q to env's rows, or leaves it as it is for "" (any).
func inEnv(q *gorm.DB, env latchkey.Environment) *gorm.DB {
	if env == "" {
		return q
	}
	return q.Where("env = ?", env)
}
