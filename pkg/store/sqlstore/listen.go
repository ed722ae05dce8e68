package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// notifyChannel is the channel on which migration 00010's triggers announce
// every change of a connection or of a value a connection owns: a JSON
// array of the changed keys, each json_build_array(app, org, user_id,
// config), per statement and up to a few hundred a notification.
const notifyChannel = "latchkey_connections"

// Backoff of the listener between failed connections.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// listenPing is how long the listener waits for a notification before it
// checks that its connection is still alive.
const listenPing = 30 * time.Second

// cacheListener keeps a PostgreSQL store's read cache in step with the
// writes of every replica: on a connection of its own it LISTENs on
// notifyChannel and forgets the key of every notification. Until LISTEN has
// succeeded, and from the moment its connection fails until it has listened
// again, the cache is off and empty, so reads go to the database.
type cacheListener struct {
	url   string
	cache *connCache
	log   *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
	// pid is the backend pid of the listening connection, 0 when there is
	// none (for tests that kill it).
	pid atomic.Uint32
}

// startListener listens once before it returns, so that a store opened on a
// reachable server caches from the start, then keeps listening in the
// background until stop.
func startListener(ctx context.Context, url string, cache *connCache, log *slog.Logger) *cacheListener {
	l := &cacheListener{url: url, cache: cache, log: log, done: make(chan struct{})}
	bg, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	first, err := l.listen(ctx)
	if err != nil {
		log.Warn("connection cache off until it can listen for changes", "error", err)
	}
	go l.run(bg, first)
	return l
}

// stop ends the listener and waits for it.
func (l *cacheListener) stop() {
	l.cancel()
	<-l.done
}

// listen opens the listener's connection and LISTENs, then turns the cache
// on.
func (l *cacheListener) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		return nil, errors.New("sqlstore: parsing the database URL for the cache listener") // the URL may hold a password
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "latchkey-cache-listener"
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, redactURL(err, l.url)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+notifyChannel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	l.pid.Store(conn.PgConn().PID())
	l.cache.setEnabled(true)
	return conn, nil
}

func (l *cacheListener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	backoff := listenBackoffMin
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			var err error
			if conn, err = l.listen(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				l.log.Warn("connection cache: listening for changes failed, retrying", "error", err, "backoff", backoff)
				backoff = min(2*backoff, listenBackoffMax)
				continue
			}
			l.log.Info("connection cache: listening for changes again")
			backoff = listenBackoffMin
		}
		err := l.wait(ctx, conn)
		l.cache.setEnabled(false)
		l.pid.Store(0)
		conn.Close(context.Background())
		conn = nil
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("connection cache off: the listener's connection failed", "error", err)
	}
}

// wait forgets the key of every notification until the connection fails or
// ctx ends. A connection that stays silent for listenPing is pinged.
func (l *cacheListener) wait(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.forget(n.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		return err
	}
}

// forget makes the cache forget the connections a notification names: a
// JSON array of keys, each an array of app, org, user_id and config
// (migration 00010's triggers, which replaced 00008's in the migration
// every store applies when it opens). A payload it cannot read, or a key it
// cannot (null: too long to send), empties the cache.
func (l *cacheListener) forget(payload string) {
	var many [][]string
	if err := json.Unmarshal([]byte(payload), &many); err != nil {
		l.cache.flush()
		return
	}
	keys := make([]latchkey.ConnectionKey, 0, len(many))
	for _, k := range many {
		if len(k) != 4 {
			l.cache.flush()
			return
		}
		keys = append(keys, latchkey.ConnectionKey{App: k[0], Org: k[1], User: k[2], Config: k[3]})
	}
	l.cache.forgetKeys(keys...)
}
