package flow

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// errFresh ends an UpdateConnection without a write: another caller has
// refreshed the token already.
var errFresh = errors.New("flow: token is fresh")

// Token returns a connection with a usable access token. A token that
// expires within the refresh margin is refreshed first (RFC 6749 §6), once
// for all concurrent callers: in this process through single-flight, across
// processes through the store's connection lock, after which the connection
// is read again and the refresh skipped if another caller has done it. For a
// client-credentials config (RFC 6749 §4.4) the org's token is fetched anew
// when it is missing or expired.
func (e *Engine) Token(ctx context.Context, key latchkey.ConnectionKey) (latchkey.Connection, error) {
	if e.cfg.Observe != nil {
		e.cfg.Observe.TokenRead(key.App, key.Config)
	}
	c, err := e.App(ctx, key.App)
	if err != nil {
		return latchkey.Connection{}, err
	}
	cc, err := c.config(key.Config)
	if err != nil {
		return latchkey.Connection{}, err
	}
	if cc.cfg.Grant() == latchkey.GrantClientCredentials {
		key.User = ""
	}
	conn, err := e.cfg.Store.GetConnection(ctx, key)
	missing := errors.Is(err, store.ErrNotFound)
	if err != nil && !(missing && cc.cfg.Grant() == latchkey.GrantClientCredentials) {
		if missing {
			return conn, latchkey.WrapError(latchkey.ENOTFOUND, err, "user %q of org %q has not connected %q", key.User, key.Org, key.Config)
		}
		return conn, err
	}
	now := e.cfg.Now()
	margin := e.margin(cc)
	if !missing {
		if err := usable(conn, now); err != nil {
			return conn, err
		}
		if !conn.Expired(now, margin) {
			return conn, nil
		}
		if !conn.Expired(now, 0) && now.Before(conn.RefreshingUntil) {
			// Another caller (the worker, ahead of expiry) is refreshing it,
			// and the token still works: no need to wait for the new one.
			return conn, nil
		}
		if conn, err, wait := backingOff(conn, now); wait {
			return conn, err
		}
	}
	if !cc.canRefresh(conn) {
		if conn.Expired(now, 0) {
			return conn, latchkey.Errorf(latchkey.ENEEDSREAUTH, "the access token of %q expired and there is no refresh token: the user must connect again", key.Config)
		}
		return conn, nil // within the margin but still valid, and nothing to refresh with
	}
	// One refresh at a time per connection in this process; the caller's
	// cancellation must not fail the others waiting on it.
	v, err, _ := e.refresh.Do(flightKey(key), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.HTTPClient.Timeout+10*time.Second)
		defer cancel()
		return e.refreshLocked(rctx, c, cc, key, missing, margin)
	})
	if err != nil {
		return latchkey.Connection{}, err
	}
	return v.(latchkey.Connection), nil
}

// usable reports why a stored connection cannot give out a token.
func usable(conn latchkey.Connection, now time.Time) error {
	switch conn.Status {
	case latchkey.StatusNeedsReauth, latchkey.StatusRefreshFailed:
		msg := "the connection " + string(conn.Status) + ": the user must connect again"
		if conn.LastError != "" {
			msg += " (last error: " + conn.LastError + ")"
		}
		return latchkey.Errorf(latchkey.ENEEDSREAUTH, "%s", msg)
	}
	return nil
}

func (e *Engine) margin(cc *compiledConfig) time.Duration {
	if cc.cfg.RefreshMargin > 0 {
		return time.Duration(cc.cfg.RefreshMargin)
	}
	return e.cfg.RefreshMargin
}

// refreshLocked refreshes a connection once for every caller on every
// replica, without holding a database lock while the provider answers:
//  1. a short transaction, under the connection's lock, re-reads it, skips
//     the refresh when another caller has just done it, and takes a lease
//     (refreshing_until) that makes every other caller wait;
//  2. the provider is asked, with no lock held;
//  3. a second short transaction writes the new token pair (or the
//     failure), only if the connection is still the version the lease was
//     taken on, and clears the lease.
//
// A caller that finds the lease taken waits for its holder's answer; a
// holder that died loses its lease when it expires, and the next caller
// decides what the lost answer means (lostRefresh): for a lease the
// worker's batch claim took, or within the config's
// refresh_token_grace_period, it refreshes again with the stored (previous)
// refresh token; otherwise the connection is needs_reauth at once, without
// asking the provider, never silently broken.
func (e *Engine) refreshLocked(ctx context.Context, c *Compiled, cc *compiledConfig, key latchkey.ConnectionKey, missing bool, margin time.Duration) (latchkey.Connection, error) {
	if missing {
		// Client credentials with no token yet: nothing to lock.
		return e.clientCredentials(ctx, c, cc, key, latchkey.Connection{})
	}
	for range 3 {
		marked := false
		var fresh latchkey.Connection // read under the lock, when it needs no refresh
		leased, err := e.cfg.Store.UpdateConnection(ctx, key, func(old latchkey.Connection) (latchkey.Connection, error) {
			now := e.cfg.Now()
			fresh = old
			if err := usable(old, now); err != nil {
				return old, err
			}
			marked = false
			if leaseLost(old, now) {
				// The last refresh's holder died before writing its
				// answer: needs_reauth, or (within the config's grace
				// period, or for client credentials) a refresh at once.
				next, mark := e.lostRefresh(cc, old, now)
				if mark {
					marked = true
					return next, nil
				}
				next.RefreshingUntil = now.Add(e.refreshLease())
				next.WorkerLease = false // this caller asks the provider now
				return next, nil
			}
			if !old.Expired(now, margin) {
				return old, errFresh
			}
			if _, err, wait := backingOff(old, now); wait {
				// Another caller or replica failed a moment ago.
				if err == nil {
					err = errFresh
				}
				return old, err
			}
			if now.Before(old.RefreshingUntil) {
				return old, errLeased
			}
			next := old
			next.RefreshingUntil = now.Add(e.refreshLease())
			next.WorkerLease = false // taken immediately before asking
			return next, nil
		})
		switch {
		case errors.Is(err, errFresh):
			// What was read under the lock, not a read through this
			// replica's cache, which may not have heard of another
			// replica's refresh yet and still hold the expired token.
			return fresh, nil
		case errors.Is(err, errLeased):
			conn, err := e.awaitRefresh(ctx, key)
			if errors.Is(err, errLeaseExpired) {
				continue // its holder died: take the lease over
			}
			return conn, err
		case err != nil:
			return latchkey.Connection{}, err
		case marked:
			return leased, e.announceLostRefresh(ctx, leased)
		}
		return e.completeRefresh(ctx, c, cc, key, leased)
	}
	return latchkey.Connection{}, latchkey.Errorf(latchkey.EREFRESHING, "the token of %q is being refreshed by another caller; try again", key.Config)
}

// completeRefresh asks the provider with no lock held and writes the answer
// if the connection is still the version it leased. A write that fails for
// a passing reason (the database briefly locked, a dropped connection) is
// retried with a short backoff while the lease lasts, so that the answer,
// and with a rotating provider the only live refresh token, is not lost.
func (e *Engine) completeRefresh(ctx context.Context, c *Compiled, cc *compiledConfig, key latchkey.ConnectionKey, leased latchkey.Connection) (latchkey.Connection, error) {
	leaseEnd := time.Now().Add(e.refreshLease())
	now := e.cfg.Now()
	var next latchkey.Connection
	var refreshErr error
	if cc.cfg.Grant() == latchkey.GrantClientCredentials {
		next, refreshErr = e.fetchClientCredentials(ctx, c, cc, key, now)
	} else {
		next, refreshErr = e.refreshToken(ctx, c, cc, leased, now)
	}
	e.observeRefresh(key, refreshErr)
	conn, err := e.retryStore(ctx, leaseEnd, key, func(attempt int) (latchkey.Connection, error) {
		return e.cfg.Store.UpdateConnection(ctx, key, func(cur latchkey.Connection) (latchkey.Connection, error) {
			if cur.Version != leased.Version {
				if attempt > 0 && refreshErr == nil && maps.Equal(cur.Values, next.Values) {
					// The attempt that seemed to fail had committed.
					return cur, errWritten
				}
				// The user connected again, or an admin changed it, meanwhile:
				// what they wrote wins over this answer.
				return cur, errSuperseded
			}
			if refreshErr != nil {
				failed := e.failed(cur, refreshErr, now)
				failed.RefreshingUntil, failed.WorkerLease = time.Time{}, false
				return failed, nil
			}
			next.CreatedAt = cur.CreatedAt
			next.Version = cur.Version
			return next, nil
		})
	})
	if errors.Is(err, errWritten) {
		conn, err = e.cfg.Store.GetConnection(ctx, key)
	}
	switch {
	case errors.Is(err, errSuperseded), errors.Is(err, store.ErrNotFound):
		e.cfg.Logger.WarnContext(ctx, "a refresh answer was dropped: the connection changed meanwhile", "app", key.App,
			"org", key.Org, "user", key.User, "config", key.Config)
		return e.cfg.Store.GetConnection(ctx, key)
	case err != nil:
		return latchkey.Connection{}, err
	case refreshErr != nil && !conn.Expired(e.cfg.Now(), 0) && conn.Status == latchkey.StatusActive:
		e.cfg.Logger.WarnContext(ctx, "early refresh failed; the current token is still valid", "app", key.App, "org", key.Org,
			"user", key.User, "config", key.Config, "error", latchkey.ErrorMessage(refreshErr))
		return conn, nil
	case refreshErr != nil:
		e.cfg.Logger.WarnContext(ctx, "refresh failed", "app", key.App, "org", key.Org, "user", key.User,
			"config", key.Config, "status", conn.Status, "error", latchkey.ErrorMessage(refreshErr))
		e.emitFailure(ctx, conn, refreshErr)
		return conn, refreshErr
	}
	e.emit(ctx, latchkey.EventConnectionRefreshed, conn, nil)
	e.cfg.Logger.InfoContext(ctx, "token refreshed", "app", key.App, "org", key.Org, "user", key.User, "config", key.Config)
	return conn, nil
}

var (
	errLeased       = errors.New("flow: another caller is refreshing")
	errLeaseExpired = errors.New("flow: the refresh lease expired")
	errSuperseded   = errors.New("flow: the connection changed during the refresh")
)

// refreshLease is how long a refresh may take before another caller may
// take it over: the provider's timeout and some.
func (e *Engine) refreshLease() time.Duration { return e.cfg.HTTPClient.Timeout + 10*time.Second }

// awaitRefreshPoll is how often a caller waiting for another's refresh
// looks at the connection.
const awaitRefreshPoll = 10 * time.Millisecond

// awaitRefresh waits for the caller holding a connection's refresh lease
// to write its answer, and returns the connection as it left it.
func (e *Engine) awaitRefresh(ctx context.Context, key latchkey.ConnectionKey) (latchkey.Connection, error) {
	limit := time.Now().Add(e.refreshLease() + 5*time.Second)
	for {
		select {
		case <-ctx.Done():
			return latchkey.Connection{}, ctx.Err()
		case <-time.After(awaitRefreshPoll):
		}
		conn, err := e.cfg.Store.GetConnection(ctx, key)
		if err != nil {
			return conn, err
		}
		now := e.cfg.Now()
		switch {
		case conn.RefreshingUntil.IsZero():
			if err := usable(conn, now); err != nil {
				return conn, err
			}
			if _, err, wait := backingOff(conn, now); wait && err != nil {
				return conn, err
			}
			return conn, nil
		case !now.Before(conn.RefreshingUntil), time.Now().After(limit):
			return conn, errLeaseExpired
		}
	}
}

// refreshToken asks the provider for a new access token (RFC 6749 §6)
// with the values of the connection's org and user.
func (e *Engine) refreshToken(ctx context.Context, c *Compiled, cc *compiledConfig, old latchkey.Connection, now time.Time) (latchkey.Connection, error) {
	vals, err := e.values(ctx, c, cc, old.Org, old.User)
	if err != nil {
		return latchkey.Connection{}, err
	}
	return e.askRefresh(ctx, cc, old, vals, now)
}

// failed records a refresh failure on a connection (its old tokens kept).
//   - Ahead of expiry, while the token still works, the failure is counted
//     and retried after a backoff, and the status stays (Slingr refuses early
//     refreshes with "Token is not yet expired.").
//   - A provider's refusal (an OAuth error code, or a 4xx other than 429)
//     means the refresh token is no good: needs_reauth at once, no retries.
//   - Anything else (network, timeouts, 429, 5xx, an unreadable answer) is
//     retried after a capped exponential backoff with jitter, or after the
//     provider's Retry-After, and after MaxRefreshFailures in a row the
//     connection is refresh_failed.
func (e *Engine) failed(old latchkey.Connection, err error, now time.Time) latchkey.Connection {
	next := old
	next.Failures++
	next.LastError = describeFailure(err)
	next.UpdatedAt = now
	next.NextAttemptAt = now.Add(e.backoff(next.Failures, err))
	switch {
	case !old.Expired(now, 0):
	case permanent(err):
		next.Status = latchkey.StatusNeedsReauth
		next.NextAttemptAt = time.Time{}
	case next.Failures >= e.cfg.MaxRefreshFailures:
		next.Status = latchkey.StatusRefreshFailed
		next.NextAttemptAt = time.Time{}
	}
	return next
}

// permanent reports whether a refresh failure is the provider's refusal.
func permanent(err error) bool {
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Provider == nil {
		return false
	}
	p := le.Provider
	if p.Status == 429 || p.Status >= 500 {
		return false
	}
	return p.Code != "" || (p.Status >= 400 && p.Status < 500)
}

// backoff is how long to wait before the next attempt after failures in a
// row: the provider's Retry-After when it gave one (at most an hour), else
// RefreshBackoff doubled per failure up to MaxRefreshBackoff, with ±20%
// jitter so that connections failing together do not retry together.
func (e *Engine) backoff(failures int, err error) time.Duration {
	var le *latchkey.Error
	if errors.As(err, &le) && le.Provider != nil && le.Provider.RetryAfter > 0 {
		return min(le.Provider.RetryAfter, time.Hour)
	}
	d := e.cfg.RefreshBackoff
	for i := 1; i < failures && d < e.cfg.MaxRefreshBackoff; i++ {
		d *= 2
	}
	d = min(d, e.cfg.MaxRefreshBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// backingOff reports whether a connection waits for its next refresh
// attempt: then a token that still works is handed out, and an expired one
// answers refresh_pending with the last error, without calling the provider.
func backingOff(conn latchkey.Connection, now time.Time) (latchkey.Connection, error, bool) {
	if conn.NextAttemptAt.IsZero() || !now.Before(conn.NextAttemptAt) {
		return conn, nil, false
	}
	if !conn.Expired(now, 0) {
		return conn, nil, true
	}
	return conn, latchkey.Errorf(latchkey.EREFRESHING, "the access token expired and refreshing it failed (%s); the next attempt is at %s",
		conn.LastError, conn.NextAttemptAt.UTC().Format(time.RFC3339)), true
}

func (e *Engine) clientCredentials(ctx context.Context, c *Compiled, cc *compiledConfig, key latchkey.ConnectionKey, old latchkey.Connection) (latchkey.Connection, error) {
	conn, err := e.fetchClientCredentials(ctx, c, cc, key, e.cfg.Now())
	if err != nil {
		return latchkey.Connection{}, err
	}
	return e.cfg.Store.PutConnection(ctx, conn)
}

// fetchClientCredentials asks for an org's token with the client credentials
// grant (RFC 6749 §4.4.2).
func (e *Engine) fetchClientCredentials(ctx context.Context, c *Compiled, cc *compiledConfig, key latchkey.ConnectionKey, now time.Time) (latchkey.Connection, error) {
	vals, err := e.values(ctx, c, cc, key.Org, "")
	if err != nil {
		return latchkey.Connection{}, err
	}
	return e.askClientCredentials(ctx, cc, key, vals, now)
}

// Disconnect revokes a connection's tokens at the provider when the config
// has a revocation URL (RFC 7009 §2.1), then deletes the connection and the
// values it owns. A failed revocation is reported, and the connection is
// deleted all the same only when force is set.
func (e *Engine) Disconnect(ctx context.Context, key latchkey.ConnectionKey, force bool) error {
	c, err := e.App(ctx, key.App)
	if err != nil {
		return err
	}
	cc, err := c.config(key.Config)
	if err != nil {
		return err
	}
	conn, err := e.cfg.Store.GetConnection(ctx, key)
	if err != nil {
		return err
	}
	if cc.revokeURL != nil {
		if err := e.revoke(ctx, c, cc, conn); err != nil && !force {
			return err
		}
	}
	if err := e.cfg.Store.DeleteConnection(ctx, key); err != nil {
		return err
	}
	conn.Status = ""
	e.emit(ctx, latchkey.EventConnectionDeleted, conn, nil)
	return nil
}

func (e *Engine) revoke(ctx context.Context, c *Compiled, cc *compiledConfig, conn latchkey.Connection) error {
	vals, err := e.values(ctx, c, cc, conn.Org, conn.User)
	if err != nil {
		return err
	}
	token, hint := conn.Values[cc.cfg.RefreshTokenVariableName], "refresh_token"
	if token == "" {
		token, hint = conn.Values[cc.cfg.AccessTokenVariableName], "access_token"
	}
	tr := tokenRequest{url: cc.revokeURL, urlField: "revocation_url", body: cc.revokeBody, field: "revocation body",
		extra: map[string]string{"token": token, "token_type_hint": hint}}
	if r := cc.cfg.Revocation; r != nil {
		tr.method, tr.encoding, tr.auth = r.Method, r.Encoding, r.ClientAuth
		if strings.TrimSpace(r.Body) != "" {
			// The declared parameters replace RFC 7009's.
			tr.extra = nil
			for k, v := range conn.Values {
				vals[k] = v
			}
		}
	}
	_, err = e.send(ctx, cc, tr, vals)
	return err
}

// describeFailure is the safe text of a refresh failure: the provider's own
// error when it gave one.
func describeFailure(err error) string {
	var le *latchkey.Error
	if errors.As(err, &le) && le.Provider != nil && (le.Provider.Code != "" || le.Provider.Description != "") {
		return le.Provider.Error()
	}
	return latchkey.ErrorMessage(err)
}

// canRefresh reports whether the config can get conn a new token without
// the user: a client-credentials config always can, another one when it has
// a refresh body and conn a refresh token.
func (cc *compiledConfig) canRefresh(conn latchkey.Connection) bool {
	return cc.cfg.Grant() == latchkey.GrantClientCredentials ||
		(cc.refreshBody != nil && conn.Values[cc.cfg.RefreshTokenVariableName] != "")
}

// flightKey names a connection's refresh in the single-flight group.
func flightKey(key latchkey.ConnectionKey) string {
	return strings.Join([]string{key.App, key.Org, key.User, key.Config}, "\x00")
}
