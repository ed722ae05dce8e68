package flow

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Backoff between attempts to store a refresh's answer.
const (
	storeRetryFirst = 20 * time.Millisecond
	storeRetryMax   = 500 * time.Millisecond
)

// errWritten ends a retried write that finds its own answer already
// stored: the attempt that seemed to fail had committed.
var errWritten = errors.New("flow: the refresh answer is stored already")

// transientStoreError reports whether a store failure may pass if the same
// write is tried again: the database busy or locked past SQLite's
// busy_timeout, a PostgreSQL lock timeout, deadlock or serialization
// failure, a dropped connection. The store returns those as plain errors;
// what it means as an answer (ErrConflict, ErrNotFound, a value that cannot
// be decrypted) is a *latchkey.Error, and the engine's own sentinels
// (errSuperseded) end the write on purpose. A context that ended is no
// passing failure either.
func transientStoreError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, errSuperseded) || errors.Is(err, errWritten) || errors.Is(err, errFresh) || errors.Is(err, errLeased) {
		return false
	}
	var le *latchkey.Error
	return !errors.As(err, &le)
}

// retryStore runs write until it succeeds, fails for a reason other than a
// passing store failure (transientStoreError), or until, with a capped
// exponential backoff between attempts, the next attempt would start after
// until or ctx's deadline. It is how a provider's answer (a rotated refresh
// token the provider will not give again) survives a briefly locked
// database. Every retry is logged with what for.
func (e *Engine) retryStore(ctx context.Context, until time.Time, key latchkey.ConnectionKey, write func(attempt int) (latchkey.Connection, error)) (latchkey.Connection, error) {
	if d, ok := ctx.Deadline(); ok && d.Before(until) {
		until = d
	}
	wait := storeRetryFirst
	for attempt := 0; ; attempt++ {
		conn, err := write(attempt)
		if !transientStoreError(err) || time.Now().Add(wait).After(until) {
			return conn, err
		}
		e.cfg.Logger.WarnContext(ctx, "storing a refresh answer failed; retrying", "app", key.App, "org", key.Org,
			"user", key.User, "config", key.Config, "attempt", attempt+1, "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return conn, err
		case <-time.After(wait):
		}
		wait = min(2*wait, storeRetryMax)
	}
}
