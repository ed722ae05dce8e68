package flow

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// refreshed is the outcome of one claimed refresh, on its way to the
// writer: next is what to store (the new tokens, the failure, or the lease
// released), err the refresh's failure.
type refreshed struct {
	leased latchkey.Connection
	next   latchkey.Connection
	err    error
	// asked is set when the provider was asked (an outcome to announce).
	asked bool
	// env is the connection's environment.
	env latchkey.Environment
}

// maxWriteBatch bounds how many answers one write transaction stores, and
// writeGather how long the writer waits for more after the first: a few
// milliseconds of a refresh that runs minutes ahead of expiry buy one
// commit for dozens of answers.
const (
	maxWriteBatch = 256
	writeGather   = 2 * time.Millisecond
)

// refreshes is the worker's pipeline: claimed connections go to
// concurrency goroutines that ask the provider, whose answers go to one
// writer that stores them in group commits.
type refreshes struct {
	e       *Engine
	work    chan refreshJob
	done    chan refreshed
	askers  sync.WaitGroup
	written chan struct{}
}

// refreshJob is a claimed connection with the installation values of its
// org, read once per batch.
type refreshJob struct {
	claimed   store.Claimed
	installed map[string]string
	err       error
}

// startRefreshes starts the pipeline; close stops it once every added
// connection is written.
func (e *Engine) startRefreshes(ctx context.Context, margin time.Duration, concurrency int) *refreshes {
	p := &refreshes{e: e, work: make(chan refreshJob), done: make(chan refreshed, maxWriteBatch), written: make(chan struct{})}
	for range concurrency {
		p.askers.Add(1)
		go func() {
			defer p.askers.Done()
			for job := range p.work {
				p.done <- e.refreshOne(ctx, job, margin)
			}
		}()
	}
	go p.write(ctx)
	return p
}

// add hands claimed connections to the askers; it returns once the last is
// taken.
func (p *refreshes) add(ctx context.Context, claimed []store.Claimed) {
	type orgKey struct {
		env      latchkey.Environment
		app, org string
	}
	installs := map[orgKey]refreshJob{}
	for _, cl := range claimed {
		k := orgKey{cl.Env, cl.Conn.App, cl.Conn.Org}
		job, ok := installs[k]
		if !ok {
			inst, err := p.e.cfg.Store.GetInstallation(claimedCtx(ctx, cl), k.app, k.org)
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
			job = refreshJob{installed: inst.Values, err: err}
			installs[k] = job
		}
		job.claimed = cl
		p.work <- job
	}
}

// close waits until every added connection is refreshed and written.
func (p *refreshes) close() {
	close(p.work)
	p.askers.Wait()
	close(p.done)
	<-p.written
}

// write stores answers as they come, gathering for writeGather after the
// first one of a batch.
func (p *refreshes) write(ctx context.Context) {
	defer close(p.written)
	batch := make([]refreshed, 0, maxWriteBatch)
	for r := range p.done {
		batch = append(batch[:0], r)
		timer := time.NewTimer(writeGather)
	gather:
		for len(batch) < maxWriteBatch {
			select {
			case r, ok := <-p.done:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		// One write per environment, each in its own.
		for len(batch) > 0 {
			env := batch[0].env
			same, rest := batch[:0:0], batch[:0:0]
			for _, r := range batch {
				if r.env == env {
					same = append(same, r)
				} else {
					rest = append(rest, r)
				}
			}
			p.e.writeRefreshed(ctx, same)
			batch = rest
		}
	}
}

// claimedCtx returns ctx in the environment of a claimed connection.
func claimedCtx(ctx context.Context, cl store.Claimed) context.Context {
	if cl.Env == "" {
		return ctx
	}
	return latchkey.WithEnvironment(ctx, cl.Env)
}

// refreshOne asks the provider for a claimed connection's new token. It
// never writes: the answer goes to the writer.
func (e *Engine) refreshOne(ctx context.Context, job refreshJob, margin time.Duration) refreshed {
	cl := job.claimed
	ctx = claimedCtx(ctx, cl)
	leased := cl.Conn
	release := leased
	release.RefreshingUntil, release.WorkerLease = time.Time{}, false
	r := refreshed{env: cl.Env, leased: leased, next: release}
	c, err := e.App(ctx, leased.App)
	if err != nil {
		r.err = err
		return r
	}
	cc, err := c.config(leased.Config)
	if err != nil {
		r.err = err
		return r
	}
	now := e.cfg.Now()
	switch {
	case !(leased.Expired(now, margin) || leased.KeepAliveDue(now)):
		return r // refreshed meanwhile, or no longer due: release the lease
	case !cc.canRefresh(leased):
		if leased.Expired(now, 0) {
			r.next.Status = latchkey.StatusExpired
			r.next.LastError = "the access token expired and there is no refresh token"
		}
		r.next.KeepAliveAt = time.Time{}
		return r
	}
	if job.err != nil {
		r.err = job.err
		return r
	}
	user := cl.UserValues
	if leased.User == "" {
		user = nil
	}
	vals := e.valuesFrom(c, cc, job.installed, user)
	var next latchkey.Connection
	r.asked = true
	if cc.cfg.Grant() == latchkey.GrantClientCredentials {
		next, err = e.askClientCredentials(ctx, cc, leased.ConnectionKey, vals, now)
	} else {
		next, err = e.askRefresh(ctx, cc, leased, vals, now)
	}
	e.observeRefresh(ctx, leased.ConnectionKey, err)
	if err != nil {
		r.err = err
		r.next = e.failed(leased, err, now)
		r.next.RefreshingUntil, r.next.WorkerLease = time.Time{}, false
		return r
	}
	next.CreatedAt, next.Version = leased.CreatedAt, leased.Version
	r.next = next
	return r
}

// writeRefreshed stores a batch of answers in one transaction, then
// announces what was stored. An answer that cannot be written is lost, and
// its lease expires into a lost refresh.
func (e *Engine) writeRefreshed(ctx context.Context, batch []refreshed) {
	if len(batch) > 0 && batch[0].env != "" { // every answer of a batch is of one environment
		ctx = latchkey.WithEnvironment(ctx, batch[0].env)
	}
	conns := make([]latchkey.Connection, len(batch))
	for i, r := range batch {
		conns[i] = r.next
		conns[i].Version = r.leased.Version
		if r.err != nil || !r.asked {
			conns[i].Values = nil // unchanged: the old tokens stay
		}
	}
	// A database briefly locked or unreachable: the answers are in hand and,
	// with a rotating provider, the only copies of the new refresh tokens.
	// A batch is retried for a few seconds, then written one answer at a
	// time (so that one answer the store refuses does not cost the others),
	// each retried for as long as a refresh lease lasts.
	until := time.Now().Add(e.refreshLease())
	if len(batch) > 1 {
		until = time.Now().Add(5 * time.Second)
	}
	var errs []error
	_, err := e.retryStore(ctx, until, batch[0].leased.ConnectionKey, func(int) (latchkey.Connection, error) {
		var err error
		errs, err = e.cfg.Store.WriteRefreshes(ctx, conns)
		return latchkey.Connection{}, err
	})
	if err != nil && len(batch) > 1 {
		for i := range batch {
			e.writeRefreshed(ctx, batch[i:i+1])
		}
		return
	}
	var events []latchkey.Event
	for i, r := range batch {
		key := r.leased.ConnectionKey
		werr := err
		if werr == nil {
			werr = errs[i]
		}
		switch {
		case werr != nil && (errors.Is(werr, store.ErrConflict) || errors.Is(werr, store.ErrNotFound)):
			e.cfg.Logger.WarnContext(ctx, "a refresh answer was dropped: the connection changed meanwhile", "app", key.App,
				"org", key.Org, "user", key.User, "config", key.Config)
		case werr != nil:
			e.cfg.Logger.ErrorContext(ctx, "storing a refresh answer failed", "app", key.App, "org", key.Org, "user", key.User,
				"config", key.Config, "error", latchkey.ErrorMessage(werr))
		case !r.asked:
			if r.err != nil {
				e.cfg.Logger.InfoContext(ctx, "proactive refresh skipped", "app", key.App, "org", key.Org, "user", key.User,
					"config", key.Config, "error", latchkey.ErrorMessage(r.err))
			}
		case r.err != nil:
			e.cfg.Logger.WarnContext(ctx, "proactive refresh failed", "app", key.App, "org", key.Org, "user", key.User,
				"config", key.Config, "status", r.next.Status, "error", latchkey.ErrorMessage(r.err))
			if typ, ok := failureEvent(r.next); ok {
				events = append(events, e.event(typ, r.next, r.err))
			}
		default:
			events = append(events, e.event(latchkey.EventConnectionRefreshed, r.next, nil))
			e.cfg.Logger.DebugContext(ctx, "token refreshed", "app", key.App, "org", key.Org, "user", key.User, "config", key.Config)
		}
	}
	if len(events) > 0 && e.cfg.Events != nil {
		e.cfg.Events(ctx, events...) // one call, so that webhooks store them in one transaction
	}
}
