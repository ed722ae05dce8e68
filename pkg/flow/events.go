package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// emit tells Config.Events, when set, what happened to conn. err, when not
// nil, is a refresh failure; only its provider code and safe description
// travel.
func (e *Engine) emit(ctx context.Context, typ latchkey.EventType, conn latchkey.Connection, err error) {
	if e.cfg.Events == nil {
		return
	}
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
	e.cfg.Events(ctx, ev)
}

// emitFailure announces a failed refresh that left the connection needing
// the user: needs_reauth or refresh_failed. A failure that will be retried
// is no event.
func (e *Engine) emitFailure(ctx context.Context, conn latchkey.Connection, err error) {
	switch conn.Status {
	case latchkey.StatusNeedsReauth:
		e.emit(ctx, latchkey.EventConnectionNeedsReauth, conn, err)
	case latchkey.StatusRefreshFailed:
		e.emit(ctx, latchkey.EventConnectionRefreshFailed, conn, err)
	}
}

// newEventID returns a random event id, "evt_" and 24 hex digits.
func newEventID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}
