package flow

import (
	"context"
	"errors"
	"fmt"
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
		return e.refreshLocked(rctx, c, cc, key, missing, expiresWithin(margin), false)
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

// Disconnect revokes a connection's tokens at the provider when the config
// has a revocation URL (RFC 7009 §2.1), then deletes the connection and the
// values it owns. A failed revocation is reported, and the connection is
// deleted all the same only when force is set.
func (e *Engine) Disconnect(ctx context.Context, key latchkey.ConnectionKey, force bool) error {
	_, err := e.DisconnectConnection(ctx, key, force)
	return err
}

// Disconnection tells how DisconnectConnection deleted a connection.
type Disconnection struct {
	// Revoked is true when the provider was asked to revoke the token
	// (RFC 7009 §2) and accepted.
	Revoked bool `json:"revoked"`
	// Notice, when set, says why the token was not revoked although the
	// connection was deleted.
	Notice string `json:"notice,omitempty"`
}

// DisconnectConnection is Disconnect, telling whether the token was
// revoked. A connection whose OAuth config the app's document no longer
// declares (a document saved before such saves were refused) is deleted
// without revocation, since nothing says how to revoke it, and the
// Disconnection says so.
func (e *Engine) DisconnectConnection(ctx context.Context, key latchkey.ConnectionKey, force bool) (Disconnection, error) {
	c, err := e.App(ctx, key.App)
	if err != nil {
		return Disconnection{}, err
	}
	var d Disconnection
	cc, err := c.config(key.Config)
	if errors.Is(err, store.ErrNotFound) {
		cc = nil
		d.Notice = fmt.Sprintf("app %q has no OAuth config %q any more: the connection was deleted without revoking its token at the provider", key.App, key.Config)
	} else if err != nil {
		return Disconnection{}, err
	}
	conn, err := e.cfg.Store.GetConnection(ctx, key)
	if err != nil {
		return Disconnection{}, err
	}
	if cc != nil && cc.revokeURL != nil {
		err := e.revoke(ctx, c, cc, conn)
		switch {
		case err == nil:
			d.Revoked = true
		case !force:
			return Disconnection{}, err
		}
	}
	if err := e.cfg.Store.DeleteConnection(ctx, key); err != nil {
		return Disconnection{}, err
	}
	conn.Status = ""
	e.emit(ctx, latchkey.EventConnectionDeleted, conn, nil)
	return d, nil
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
