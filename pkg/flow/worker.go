package flow

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Defaults of Worker.
const (
	DefaultWorkerInterval    = 30 * time.Second
	DefaultWorkerMargin      = 5 * time.Minute
	DefaultWorkerBatch       = 200
	DefaultWorkerConcurrency = 8
)

// Worker refreshes tokens ahead of their expiry, so that reads find them
// fresh. Several workers, in one process or on replicas sharing a
// database, split the due connections through the store's leases; a
// connection claimed twice is still refreshed once, because the refresh
// runs under the connection's lock and re-reads it first.
type Worker struct {
	Engine *Engine
	// Interval is the pause between rounds when a round found nothing more
	// to do.
	Interval time.Duration
	// Margin is how long before expiry a token is refreshed.
	Margin time.Duration
	// Batch is how many connections one claim takes.
	Batch int
	// Concurrency is how many refreshes run at once.
	Concurrency int
}

func (w *Worker) defaults() {
	if w.Interval <= 0 {
		w.Interval = DefaultWorkerInterval
	}
	if w.Margin <= 0 {
		w.Margin = DefaultWorkerMargin
	}
	if w.Batch <= 0 {
		w.Batch = DefaultWorkerBatch
	}
	if w.Concurrency <= 0 {
		w.Concurrency = DefaultWorkerConcurrency
	}
}

// Run refreshes due tokens until ctx ends. A refresh in flight when ctx
// ends is finished, so that no provider answer is lost, and so is every
// connection already claimed. One batch is claimed ahead while the previous
// one is being refreshed, so that the provider is never idle while the
// database answers a claim.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	bctx := context.WithoutCancel(ctx)
	p := w.Engine.startRefreshes(bctx, w.Margin, w.Concurrency)
	defer p.close()
	ahead := make(chan []store.Claimed, 1)
	go func() {
		defer close(ahead)
		for {
			claimed, n, err := w.claim(ctx)
			if err != nil && ctx.Err() == nil {
				w.Engine.cfg.Logger.Warn("refresh worker round failed", "error", latchkey.ErrorMessage(err))
			}
			if len(claimed) > 0 {
				ahead <- claimed
			}
			if n >= w.Batch && err == nil && ctx.Err() == nil {
				continue // more may be due right now
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.Interval):
			}
		}
	}()
	for claimed := range ahead {
		p.add(bctx, claimed)
	}
}

// RunOnce claims one batch of connections due for a refresh, refreshes
// them and returns how many it claimed, once they are all written.
// Failures of single connections are recorded on them (backoff,
// needs_reauth) as for a read, not returned.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	bctx := context.WithoutCancel(ctx)
	p := w.Engine.startRefreshes(bctx, w.Margin, w.Concurrency)
	defer p.close()
	claimed, n, err := w.claim(ctx)
	p.add(bctx, claimed)
	return n, err
}

// claim claims one batch: the connections to refresh, and how many it
// claimed in all.
//
// The claim takes each connection's refresh lease, as a read's refresh
// does, so a read that needs the token meanwhile waits for this answer
// instead of refreshing too. Connections whose last refresh never wrote its
// answer (its holder died) go through the read path's refresh, which
// decides what the lost answer means.
func (w *Worker) claim(ctx context.Context) ([]store.Claimed, int, error) {
	e := w.Engine
	envs, err := store.Environments(ctx, e.cfg.Store)
	if err != nil {
		return nil, 0, err
	}
	if len(envs) == 1 {
		var all []store.Claimed
		n, err := w.claimIn(ctx, envs[0], w.Batch, &all)
		return all, n, err
	}
	// The batch is shared among the environments with due work, each at
	// most its share (what one needs less of goes to the others), so that
	// a flood of due refreshes in one leaves the others' done in the same
	// round. The counts are reads without locks; each environment with a
	// share is then claimed once.
	now := e.cfg.Now()
	need := make([]int, len(envs))
	for i, env := range envs {
		if need[i], err = e.cfg.Store.CountDue(latchkey.WithEnvironment(ctx, env), now, now.Add(w.Margin), w.Batch); err != nil {
			return nil, 0, err
		}
	}
	give := share(need, w.Batch)
	var all []store.Claimed
	n := 0
	for i, env := range envs {
		got, err := w.claimIn(ctx, env, give[i], &all)
		n += got
		if err != nil {
			return all, n, err
		}
	}
	return all, n, nil
}

// share divides batch among needs: each gets at most an equal part of what
// is left, the parts the smaller needs leave going to the larger ones.
func share(need []int, batch int) []int {
	give := make([]int, len(need))
	left := batch
	for {
		open := 0
		for i := range need {
			if give[i] < need[i] {
				open++
			}
		}
		if open == 0 || left == 0 {
			return give
		}
		part := max(1, left/open)
		for i := range need {
			if give[i] < need[i] && left > 0 {
				g := min(part, need[i]-give[i], left)
				give[i] += g
				left -= g
			}
		}
	}
}

// claimIn claims up to limit connections of env, appends them to all, has
// the lost ones refreshed as a read would, and returns how many it claimed.
func (w *Worker) claimIn(ctx context.Context, env latchkey.Environment, limit int, all *[]store.Claimed) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	e := w.Engine
	{
		ectx := latchkey.WithEnvironment(ctx, env)
		now := e.cfg.Now()
		claimed, lost, err := e.cfg.Store.ClaimRefreshes(ectx, now, now.Add(w.Margin), limit, e.refreshLease())
		if err != nil {
			return 0, err
		}
		bctx := context.WithoutCancel(ectx) // a claimed connection is refreshed, not dropped
		for _, key := range lost {
			if err := e.RefreshDue(bctx, key, w.Margin); err != nil {
				e.cfg.Logger.Info("proactive refresh failed", "environment", string(env), "app", key.App, "org", key.Org, "user", key.User,
					"config", key.Config, "error", latchkey.ErrorMessage(err))
			}
		}
		*all = append(*all, claimed...)
		return len(claimed) + len(lost), nil
	}
}

// RefreshDue refreshes a connection whose token expires within margin, or
// whose refresh lease expired unanswered, as a read would (one refresh at a
// time, under the connection's lock, after a re-read); a connection that is
// fresh, waits for a retry, or has nothing to refresh with is left alone.
func (e *Engine) RefreshDue(ctx context.Context, key latchkey.ConnectionKey, margin time.Duration) error {
	c, err := e.App(ctx, key.App)
	if err != nil {
		return err
	}
	cc, err := c.config(key.Config)
	if err != nil {
		return err
	}
	conn, err := e.cfg.Store.GetConnection(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil // disconnected meanwhile
	}
	if err != nil {
		return err
	}
	now := e.cfg.Now()
	if usable(conn, now) != nil || !(conn.Expired(now, margin) || conn.KeepAliveDue(now) || !conn.RefreshingUntil.IsZero()) {
		return nil
	}
	if _, _, wait := backingOff(conn, now); wait {
		return nil
	}
	if !cc.canRefresh(conn) {
		return nil
	}
	_, err, _ = e.refresh.Do(envKey(ctx, flightKey(key)), func() (any, error) {
		return e.refreshLocked(ctx, c, cc, key, false, expiresWithin(margin), false)
	})
	return err
}
