package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// emit tells Config.Events, when set, what happened to conn. err, when not
// nil, is a refresh failure; only its provider code and safe description
// travel.
func (e *Engine) emit(ctx context.Context, typ latchkey.EventType, conn latchkey.Connection, err error) {
	if e.cfg.Events != nil {
		e.cfg.Events(ctx, e.event(typ, conn, err))
	}
}

// event is the event of emit.
func (e *Engine) event(typ latchkey.EventType, conn latchkey.Connection, err error) latchkey.Event {
	ev := latchkey.Event{ID: newEventID(), Type: typ, CreatedAt: e.cfg.Now().UTC(), App: conn.App, Org: conn.Org,
		User: conn.User, Config: conn.Config, Status: conn.Status}
	if err != nil {
		ev.Error = &latchkey.EventError{Description: describeFailure(err)}
		var le *latchkey.Error
		if errors.As(err, &le) && le.Provider != nil {
			ev.Error.Code = le.Provider.Code
			if le.Provider.Description != "" {
				ev.Error.Description = le.Provider.Description
			}
		}
	}
	return ev
}

// emitFailure announces a failed refresh that left the connection needing
// the user: needs_reauth or refresh_failed. A failure that will be retried
// is no event.
func (e *Engine) emitFailure(ctx context.Context, conn latchkey.Connection, err error) {
	if typ, ok := failureEvent(conn); ok {
		e.emit(ctx, typ, conn, err)
	}
}

// failureEvent is the event type of a failed refresh that left conn
// needing the user, if it did.
func failureEvent(conn latchkey.Connection) (latchkey.EventType, bool) {
	switch conn.Status {
	case latchkey.StatusNeedsReauth:
		return latchkey.EventConnectionNeedsReauth, true
	case latchkey.StatusRefreshFailed:
		return latchkey.EventConnectionRefreshFailed, true
	}
	return "", false
}

// newEventID returns a random event id, "evt_" and 24 hex digits.
func newEventID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand's Read never returns an error: it crashes the program instead
	return "evt_" + hex.EncodeToString(b)
}

// Refresh outcomes, as Observer.Refresh hears them.
const (
	RefreshSuccess   = "success"   // a new token was stored
	RefreshTransient = "transient" // a passing failure (network, timeout, 429, 5xx): retried later
	RefreshRefused   = "refused"   // the provider refused the refresh token (RFC 6749 §5.2)
)

// Observer hears what the engine does, for metrics. Its methods are called
// on the engine's goroutines, must be safe for concurrent use and quick, and
// receive no user, token or URL. env is the environment of what is
// observed ("" when the call said none).
type Observer interface {
	// TokenRead counts a read of a connection's token (Engine.Token).
	TokenRead(env latchkey.Environment, app, config string)
	// ProviderRequest times one request to a provider's token, refresh or
	// revocation endpoint; status is the HTTP status, 0 when no answer came.
	ProviderRequest(env latchkey.Environment, app, config string, status int, d time.Duration)
	// Refresh counts a refresh attempt by outcome: RefreshSuccess,
	// RefreshTransient or RefreshRefused.
	Refresh(env latchkey.Environment, app, config, outcome string)
}

func (e *Engine) observeRequest(ctx context.Context, cc *compiledConfig, resp *http.Response, d time.Duration) {
	if e.cfg.Observe == nil {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	e.cfg.Observe.ProviderRequest(latchkey.EnvironmentFrom(ctx), cc.app, cc.cfg.Name, status, d)
}

func (e *Engine) observeRefresh(ctx context.Context, key latchkey.ConnectionKey, err error) {
	if e.cfg.Observe == nil {
		return
	}
	outcome := RefreshSuccess
	switch {
	case err != nil && permanent(err):
		outcome = RefreshRefused
	case err != nil:
		outcome = RefreshTransient
	}
	e.cfg.Observe.Refresh(latchkey.EnvironmentFrom(ctx), key.App, key.Config, outcome)
}
