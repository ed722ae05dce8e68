package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// keyUses records when API keys authenticate requests (APIKey.LastUsedAt)
// without slowing them: a use is written only when the one known (the
// stored one, read with the key at most keyCacheTTL ago, or the last this
// server queued) is older than every, and it is written by one goroutine
// from a bounded queue, so that a request never waits on the database (on
// SQLite, behind the single writer) and a busy key writes about once a
// minute. The store's conditional UPDATE keeps replicas from writing the
// same minute twice.
type keyUses struct {
	store  store.Store
	logger *slog.Logger
	// every is how often a key's use is written at most; a negative one
	// records none (the benchmarks' baseline).
	every time.Duration

	mu     sync.Mutex
	queued map[string]time.Time // key id → the last use this server queued
	closed bool
	// dropped counts the uses not recorded because the queue was full
	// since the last warning, warned is when that was: a database that
	// does not keep up is logged once a minute, not on every request.
	dropped int
	warned  time.Time
	queue   chan keyUse
	done    chan struct{}
}

// keyUse is one use of a key to write.
type keyUse struct {
	id  string
	env latchkey.Environment
	at  time.Time
}

const (
	// keyUseQueue bounds the uses waiting to be written: one per key at
	// most once a minute, so a full queue means a database that does not
	// keep up, and a use then waits for the key's next request.
	keyUseQueue = 256
	// keyUseTimeout bounds one write.
	keyUseTimeout = 5 * time.Second
	// keyUsesRemembered is how many keys' queued uses are remembered
	// before those older than every are forgotten.
	keyUsesRemembered = 4096
)

func newKeyUses(st store.Store, logger *slog.Logger) *keyUses {
	u := &keyUses{store: st, logger: logger, every: latchkey.APIKeyUseResolution, queued: map[string]time.Time{},
		queue: make(chan keyUse, keyUseQueue), done: make(chan struct{})}
	go u.run()
	return u
}

// note records that key authenticated a request at now, if its last known
// use is older than u.every.
func (u *keyUses) note(key latchkey.APIKey, now time.Time) {
	if u.every < 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	last, queued := u.queued[key.ID]
	if key.LastUsedAt != nil && (!queued || key.LastUsedAt.After(last)) {
		last, queued = *key.LastUsedAt, true
	}
	if queued && now.Sub(last) < u.every {
		return
	}
	select {
	case u.queue <- keyUse{id: key.ID, env: key.Env, at: now}:
	default:
		u.dropped++
		if now.Sub(u.warned) >= u.every {
			u.logger.Warn("the writes of API key uses do not keep up: uses not recorded", "uses", u.dropped, "key", key.ID)
			u.dropped, u.warned = 0, now
		}
		return
	}
	if len(u.queued) >= keyUsesRemembered {
		for id, at := range u.queued {
			if now.Sub(at) >= u.every {
				delete(u.queued, id)
			}
		}
	}
	u.queued[key.ID] = now
}

func (u *keyUses) run() {
	defer close(u.done)
	for use := range u.queue {
		ctx, cancel := context.WithTimeout(context.Background(), keyUseTimeout)
		if use.env != "" {
			ctx = latchkey.WithEnvironment(ctx, use.env)
		}
		if err := u.store.TouchAPIKey(ctx, use.id, use.at); err != nil {
			u.logger.Error("cannot record the use of an API key", "key", use.id, "error", err)
		}
		cancel()
	}
}

// close writes the uses still queued and stops the writer; later uses are
// not recorded.
func (u *keyUses) close() {
	u.mu.Lock()
	if !u.closed {
		u.closed = true
		close(u.queue)
	}
	u.mu.Unlock()
	<-u.done
}
