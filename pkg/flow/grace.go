package flow

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// interruptedRefresh is the LastError of a connection whose refresh was
// interrupted after the provider may have answered: safe to show, no secret.
const interruptedRefresh = "a refresh was interrupted before its answer was stored (the provider may have rotated the refresh token); the user must connect again"

// leaseLost reports whether conn carries a refresh lease that expired
// without an answer being written: its holder died (or lost its database)
// before the write, which clears the lease, maybe after asking the
// provider (always so for a read's lease, taken just before asking).
func leaseLost(conn latchkey.Connection, now time.Time) bool {
	return !conn.RefreshingUntil.IsZero() && !now.Before(conn.RefreshingUntil)
}

// lostRefresh decides what a lost refresh means for conn, as read at now
// under the connection's lock (in an UpdateConnection). A refresh is lost
// when conn's refresh lease expired unanswered (leaseLost): the provider
// may have answered it, and a provider that rotates refresh tokens
// (RFC 6749 §10.4) has then invalidated the refresh token still stored.
//
// It returns false, and conn unchanged, when the next refresh may go ahead
// with the stored refresh token: there was no lost refresh; the config uses
// client credentials (RFC 6749 §4.4: a new token is simply fetched, nothing
// was lost); the lease was taken by the refresh worker's batch claim
// (conn.WorkerLease), whose holder may have died before asking the provider
// (a worker killed after a claim leaves its whole batch leased, most of it
// never sent), so the provider decides: one that rotated the refresh token
// refuses it (invalid_grant, needs_reauth through the refusal handling of
// failed), one that never saw the lost request answers; or the lost attempt
// started (RefreshingUntil minus
// refreshLease) no longer ago than the config's RefreshTokenGracePeriod,
// the window in which the provider still accepts the previous refresh
// token.
//
// Otherwise (no grace period, or past it) it returns true and the version
// of conn to write instead of refreshing, without asking the provider:
// status needs_reauth, the old tokens kept for inspection, LastError saying
// the refresh was interrupted, failure bookkeeping updated and the lease
// cleared. The caller writes it and then calls announceLostRefresh.
func (e *Engine) lostRefresh(cc *compiledConfig, conn latchkey.Connection, now time.Time) (latchkey.Connection, bool) {
	if !leaseLost(conn, now) || cc.cfg.Grant() == latchkey.GrantClientCredentials || conn.WorkerLease {
		return conn, false
	}
	started := conn.RefreshingUntil.Add(-e.refreshLease())
	if grace := time.Duration(cc.cfg.RefreshTokenGracePeriod); grace > 0 && !now.After(started.Add(grace)) {
		return conn, false
	}
	next := conn
	next.Status = latchkey.StatusNeedsReauth
	next.LastError = interruptedRefresh
	next.Failures++
	next.NextAttemptAt = time.Time{}
	next.RefreshingUntil, next.WorkerLease = time.Time{}, false
	next.UpdatedAt = now
	return next, true
}

// announceLostRefresh logs and announces (connection.needs_reauth) a
// connection that lostRefresh marked and the caller has written, and
// returns the error a read of it answers.
func (e *Engine) announceLostRefresh(ctx context.Context, conn latchkey.Connection) error {
	e.cfg.Logger.WarnContext(ctx, "a refresh was interrupted before its answer was stored; the connection needs the user again",
		"app", conn.App, "org", conn.Org, "user", conn.User, "config", conn.Config, "status", conn.Status)
	err := latchkey.Errorf(latchkey.ENEEDSREAUTH, "%s", interruptedRefresh)
	e.emitFailure(ctx, conn, err)
	return err
}
