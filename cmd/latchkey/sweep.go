package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// defaultSweepInterval is how often a server deletes what has expired.
const defaultSweepInterval = 10 * time.Minute

// sweep deletes, once at start and then every interval until ctx ends, in
// every environment: the links, states and OAuth token records that
// expired, and the traces older than latchkey.TraceRetention (those of
// connections deleted meanwhile too). Each replica sweeps; the deletes are
// the same whoever runs them. A failed sweep is logged and tried again at
// the next tick.
func sweep(ctx context.Context, st store.Store, now func() time.Time, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		at := now()
		if err := st.DeleteExpired(ctx, at); err != nil && ctx.Err() == nil {
			logger.Error("cannot delete expired links, states and OAuth tokens", "error", err)
		}
		if n, err := st.PruneTraces(ctx, at.Add(-latchkey.TraceRetention)); err != nil && ctx.Err() == nil {
			logger.Error("cannot delete old flow traces", "error", err)
		} else if n > 0 {
			logger.Info("old flow traces deleted", "traces", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
