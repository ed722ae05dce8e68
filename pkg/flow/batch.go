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
}

// maxWriteBatch bounds how many answers one write transaction stores.
const maxWriteBatch = 256

// refreshClaimed refreshes connections the worker claimed, each under the
// refresh lease the claim took: concurrency goroutines ask the provider
// and one writer stores their answers in group commits.
func (e *Engine) refreshClaimed(ctx context.Context, claimed []store.Claimed, margin time.Duration, concurrency int) {
	installs := e.installations(ctx, claimed)
	work := make(chan store.Claimed)
	done := make(chan refreshed, maxWriteBatch) // refreshers never wait for a write
	var wg sync.WaitGroup
	for range min(concurrency, len(claimed)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cl := range work {
				done <- e.refreshOne(ctx, cl, installs, margin)
			}
		}()
	}
	go func() {
		for _, cl := range claimed {
			work <- cl
		}
		close(work)
		wg.Wait()
		close(done)
	}()
	batch := make([]refreshed, 0, maxWriteBatch)
	for r := range done {
		batch = append(batch[:0], r)
	drain: // take every answer that has arrived meanwhile
		for len(batch) < maxWriteBatch {
			select {
			case r, ok := <-done:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		e.writeRefreshed(ctx, batch)
	}
}

// installations reads, once per org, the installations of the claimed
// connections' orgs.
func (e *Engine) installations(ctx context.Context, claimed []store.Claimed) map[[2]string]map[string]string {
	out := map[[2]string]map[string]string{}
	for _, cl := range claimed {
		k := [2]string{cl.Conn.App, cl.Conn.Org}
		if _, ok := out[k]; ok {
			continue
		}
		inst, err := e.cfg.Store.GetInstallation(ctx, k[0], k[1])
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			continue // refreshOne reads it again and reports the error
		}
		out[k] = inst.Values
	}
	return out
}

// refreshOne asks the provider for a claimed connection's new token. It
// never writes: the answer goes to the writer.
func (e *Engine) refreshOne(ctx context.Context, cl store.Claimed, installs map[[2]string]map[string]string, margin time.Duration) refreshed {
	leased := cl.Conn
	release := leased
	release.RefreshingUntil = time.Time{}
	r := refreshed{leased: leased, next: release}
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
	installed, ok := installs[[2]string{leased.App, leased.Org}]
	if !ok {
		inst, err := e.cfg.Store.GetInstallation(ctx, leased.App, leased.Org)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			r.err = err
			return r
		}
		installed = inst.Values
	}
	user := cl.UserValues
	if leased.User == "" {
		user = nil
	}
	vals := e.valuesFrom(c, cc, installed, user)
	var next latchkey.Connection
	r.asked = true
	if cc.cfg.Grant() == latchkey.GrantClientCredentials {
		next, err = e.askClientCredentials(ctx, cc, leased.ConnectionKey, vals, now)
	} else {
		next, err = e.askRefresh(ctx, cc, leased, vals, now)
	}
	e.observeRefresh(leased.ConnectionKey, err)
	if err != nil {
		r.err = err
		r.next = e.failed(leased, err, now)
		r.next.RefreshingUntil = time.Time{}
		return r
	}
	next.CreatedAt, next.Version = leased.CreatedAt, leased.Version
	r.next = next
	return r
}

// askRefresh sends the config's refresh request with vals (RFC 6749 §6)
// and returns the connection to store: an answer without a refresh token
// keeps the old one, values the answer does not set are kept.
func (e *Engine) askRefresh(ctx context.Context, cc *compiledConfig, old latchkey.Connection, vals map[string]string, now time.Time) (latchkey.Connection, error) {
	rt := old.Values[cc.cfg.RefreshTokenVariableName]
	vals["refresh_token"] = rt
	tok, err := e.send(ctx, cc, tokenRequest{url: cc.refreshURL, urlField: "refresh_token_url", body: cc.refreshBody, field: "refresh_token_body", expect: true}, vals)
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
	tok, err := e.send(ctx, cc, tokenRequest{url: cc.tokenURL, urlField: "token_url", body: cc.body, field: "request_body", expect: true}, vals)
	if err != nil {
		return latchkey.Connection{}, err
	}
	return e.newConnection(cc, key, tok, now), nil
}

// writeRefreshed stores a batch of answers in one transaction, then
// announces what was stored. A batch the store refuses as a whole is
// retried one answer at a time, so that one bad answer does not cost the
// others; an answer that still cannot be written is lost, and its lease
// expires into a lost refresh.
func (e *Engine) writeRefreshed(ctx context.Context, batch []refreshed) {
	conns := make([]latchkey.Connection, len(batch))
	for i, r := range batch {
		conns[i] = r.next
		conns[i].Version = r.leased.Version
	}
	errs, err := e.cfg.Store.WriteRefreshes(ctx, conns)
	if err != nil && len(batch) > 1 {
		for i := range batch {
			e.writeRefreshed(ctx, batch[i:i+1])
		}
		return
	}
	// A database briefly locked or unreachable: the answer is in hand and,
	// with a rotating provider, the only copy of the new refresh token.
	for wait := 50 * time.Millisecond; err != nil && wait <= 1600*time.Millisecond && ctx.Err() == nil; wait *= 2 {
		time.Sleep(wait)
		errs, err = e.cfg.Store.WriteRefreshes(ctx, conns)
	}
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
			e.emitFailure(ctx, r.next, r.err)
		default:
			e.emit(ctx, latchkey.EventConnectionRefreshed, r.next, nil)
			e.cfg.Logger.DebugContext(ctx, "token refreshed", "app", key.App, "org", key.Org, "user", key.User, "config", key.Config)
		}
	}
}
