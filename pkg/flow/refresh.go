package flow

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/trace"
)

// This file holds the refresh itself, whoever asks for it: a token read
// near expiry (Token), a provider's "token expired" answer to an API call
// (ForceRefresh), an admin's "Refresh now" (RefreshNow), and the worker's batches (which use askRefresh and
// askClientCredentials): the lease, the provider's answer, and its write.

// expiresWithin is refreshLocked's due of a read: the token expires within
// margin.
func expiresWithin(margin time.Duration) func(latchkey.Connection, time.Time) bool {
	return func(old latchkey.Connection, now time.Time) bool { return old.Expired(now, margin) }
}

// ForceRefresh refreshes a connection whose access token the provider has
// just refused (RFC 6750 §3.1, invalid_token), whether or not it looked
// expired, through the same single-flight and lease as Token: every caller
// that met the refusal of the same token shares one refresh, on every
// replica, and a caller whose refused token has already been replaced gets
// the connection as it is, without a refresh. A connection with nothing to
// refresh with comes back unchanged (its token is still refused).
func (e *Engine) ForceRefresh(ctx context.Context, key latchkey.ConnectionKey, refused string) (latchkey.Connection, error) {
	return e.forceRefresh(ctx, key, refused, true)
}

// RefreshNow refreshes a connection at once, whether or not it is due (the
// builder's "Refresh now"), through the same single-flight and lease as
// ForceRefresh: callers at the same moment share one refresh, and one that
// finds the token replaced meanwhile gets the connection as it is. Unlike
// ForceRefresh it does not take the current token for refused, so a
// refresh that fails leaves a token that still works usable. A connection
// with nothing to refresh with is refused with ECONFLICT.
func (e *Engine) RefreshNow(ctx context.Context, key latchkey.ConnectionKey) (latchkey.Connection, error) {
	return e.forceRefresh(ctx, key, "", false)
}

// forceRefresh is ForceRefresh when refused says the provider refused the
// token called token, and RefreshNow, for the token stored now, otherwise.
func (e *Engine) forceRefresh(ctx context.Context, key latchkey.ConnectionKey, token string, refused bool) (latchkey.Connection, error) {
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
	if err != nil {
		return conn, err
	}
	if err := usable(conn, e.cfg.Now()); err != nil {
		return conn, err
	}
	tokenVar := cc.cfg.AccessTokenVariableName
	flight := "\x00refused\x00"
	if !refused {
		if !cc.canRefresh(conn) {
			return conn, latchkey.Errorf(latchkey.ECONFLICT, "the connection of %q has no refresh token: only authorizing it again gets a new token", key.Config)
		}
		token, flight = conn.Values[tokenVar], "\x00now\x00"
	}
	if conn.Values[tokenVar] != token || !cc.canRefresh(conn) {
		return conn, nil
	}
	v, err, _ := e.refresh.Do(envKey(ctx, flightKey(key))+flight+token, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.HTTPClient.Timeout+10*time.Second)
		defer cancel()
		return e.refreshLocked(rctx, c, cc, key, false, func(old latchkey.Connection, _ time.Time) bool {
			return old.Values[tokenVar] == token
		}, refused)
	})
	if err != nil {
		return latchkey.Connection{}, err
	}
	return v.(latchkey.Connection), nil
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
//
// due says, under the lock, whether the connection as stored still needs
// the refresh: its token expires within the margin (a read), or it is still
// the token the provider refused (ForceRefresh).
//
// refused says the provider has refused the stored access token: the lease
// also ends its expiry now, so that a failed refresh counts as the failure
// of an expired token (needs_reauth on a refusal, refresh_pending while
// retried) instead of an early refresh of a token that still works.
func (e *Engine) refreshLocked(ctx context.Context, c *Compiled, cc *compiledConfig, key latchkey.ConnectionKey, missing bool, due func(old latchkey.Connection, now time.Time) bool, refused bool) (latchkey.Connection, error) {
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
			if !due(old, now) {
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
			if refused && (next.ExpiresAt.IsZero() || next.ExpiresAt.After(now)) {
				next.ExpiresAt = now
			}
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
	e.observeRefresh(ctx, key, refreshErr)
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

// askRefresh sends the config's refresh request with vals (RFC 6749 §6)
// and returns the connection to store: an answer without a refresh token
// keeps the old one, values the answer does not set are kept.
func (e *Engine) askRefresh(ctx context.Context, cc *compiledConfig, old latchkey.Connection, vals map[string]string, now time.Time) (latchkey.Connection, error) {
	rt := old.Values[cc.cfg.RefreshTokenVariableName]
	vals["refresh_token"] = rt
	tctx, rec := trace.Start(ctx, e.cfg.Traces, latchkey.TraceRefresh, old.ConnectionKey, "")
	tok, err := e.send(tctx, cc, tokenRequest{url: cc.refreshURL, urlField: "refresh_token_url", body: cc.refreshBody, field: "refresh_token_body", expect: true, rules: &cc.refreshRules}, vals)
	rec.Finish(err)
	if err != nil {
		return latchkey.Connection{}, err
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = rt
	}
	next := e.newConnection(cc, old.ConnectionKey, tok, now)
	for k, v := range old.Values {
		if _, ok := next.Values[k]; !ok {
			next.Values[k] = v
		}
	}
	if next.Scope == "" {
		next.Scope = old.Scope
	}
	if next.TokenType == "" {
		next.TokenType = old.TokenType
	}
	return next, nil
}

// askClientCredentials fetches an org's token with the client credentials
// grant (RFC 6749 §4.4.2) with vals.
func (e *Engine) askClientCredentials(ctx context.Context, cc *compiledConfig, key latchkey.ConnectionKey, vals map[string]string, now time.Time) (latchkey.Connection, error) {
	tctx, rec := trace.Start(ctx, e.cfg.Traces, latchkey.TraceRefresh, key, "client credentials")
	rec.Next("client credentials")
	tok, err := e.send(tctx, cc, tokenRequest{url: cc.tokenURL, urlField: "token_url", body: cc.body, field: "request_body", expect: true}, vals)
	rec.Finish(err)
	if err != nil {
		return latchkey.Connection{}, err
	}
	return e.newConnection(cc, key, tok, now), nil
}
