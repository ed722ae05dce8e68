package flow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestLostRefreshAnswerEndsInNeedsReauth has the provider rotate the
// refresh token and then drop the connection before answering: an answer
// lost on the wire, which Latchkey sees and records as a passing failure
// (for a holder killed before its write, see the tests below). The next
// attempt, with the old refresh token the provider has now invalidated, is
// refused: the connection is needs_reauth at once, its old tokens kept for
// inspection, reads answer needs_reauth instead of the stale token, and one
// connection.needs_reauth event is emitted.
func TestLostRefreshAnswerEndsInNeedsReauth(t *testing.T) {
	e, p := genericEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	var mu sync.Mutex
	var events []latchkey.Event
	e.engine = flow.New(flow.Config{Store: e.store, Now: e.clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect",
		Events: func(_ context.Context, evs ...latchkey.Event) {
			mu.Lock()
			events = append(events, evs...)
			mu.Unlock()
		}})
	first := e.mustConnect(p, alice)
	oldRT := first.Values["refresh_token"]
	e.clock.Advance(2 * time.Hour)

	p.FailNext(1, providertest.Failure{Kind: providertest.KindReset, Processed: true, On: providertest.EndpointRefresh})
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
		t.Fatalf("lost answer: got %v, want the provider's failure", err)
	}
	if p.ValidRefreshToken(oldRT) {
		t.Fatal("the provider still accepts the old refresh token, want it rotated away")
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusActive || conn.Failures != 1 || conn.Values["refresh_token"] != oldRT {
		t.Fatalf("after the lost answer: got status %q failures %d; want active, 1, the old refresh token kept", conn.Status, conn.Failures)
	}

	e.clock.Advance(time.Minute) // past the backoff
	_, err := e.engine.Token(e.ctx, alice)
	if code := providerCode(err); code != "invalid_grant" {
		t.Fatalf("next attempt: got %v, want the provider's invalid_grant", err)
	}
	conn, _ = e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusNeedsReauth || conn.Values["refresh_token"] != oldRT ||
		conn.Values["access_token"] != first.Values["access_token"] || conn.LastError == "" {
		t.Fatalf("got status %q, old tokens kept %v, last error %q; want needs_reauth with the old tokens and the error",
			conn.Status, conn.Values["refresh_token"] == oldRT && conn.Values["access_token"] == first.Values["access_token"], conn.LastError)
	}
	calls := p.RefreshCalls()
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("read after: got %v, want needs_reauth, not the stale token", err)
	}
	if p.RefreshCalls() != calls {
		t.Fatalf("got %d more refreshes, want none after needs_reauth", p.RefreshCalls()-calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Type != latchkey.EventConnectionCreated || events[1].Type != latchkey.EventConnectionNeedsReauth ||
		events[1].Error == nil || events[1].Error.Code != "invalid_grant" {
		t.Fatalf("got events %+v, want connection.created then connection.needs_reauth with invalid_grant", events)
	}
}

// crashLease is the refresh lease of the engines below: their HTTP
// timeout (5 s) and 10 s.
const crashLease = 15 * time.Second

// crashEnv is genericEnv with a rotating provider, an engine whose refresh
// lease is crashLease and which records its events, and the generic config
// given grace as its refresh_token_grace_period (none when zero).
func crashEnv(t *testing.T, opts providertest.Options, grace string) (*env, *providertest.Provider, func() []latchkey.Event) {
	t.Helper()
	e, p := genericEnv(t, opts)
	var mu sync.Mutex
	var events []latchkey.Event
	e.engine = flow.New(flow.Config{Store: e.store, Now: e.clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect",
		HTTPClient: flow.NewHTTPClient(crashLease - 10*time.Second),
		Events: func(_ context.Context, evs ...latchkey.Event) {
			mu.Lock()
			events = append(events, evs...)
			mu.Unlock()
		}})
	if grace != "" {
		e.save(strings.Replace(genericApp(p.BaseURL()), "    refresh_token_variable_name: refresh_token\n",
			"    refresh_token_variable_name: refresh_token\n    refresh_token_grace_period: "+grace+"\n", 1))
	}
	return e, p, func() []latchkey.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]latchkey.Event(nil), events...)
	}
}

// killMidRefresh leaves what a replica killed between the provider's answer
// and its write leaves behind: the connection's refresh lease taken now for
// crashLease (its first transaction), and the provider having answered a
// refresh with the stored refresh token (rotating it). It returns the
// refresh token of that lost answer.
func killMidRefresh(t *testing.T, e *env, p *providertest.Provider, key latchkey.ConnectionKey) string {
	t.Helper()
	conn, err := e.store.UpdateConnection(e.ctx, key, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.RefreshingUntil = e.clock.Now().Add(crashLease)
		return c, nil
	})
	if err != nil {
		t.Fatalf("taking the lease: %v", err)
	}
	return refreshAtProvider(t, p, conn.Values["refresh_token"])
}

// refreshAtProvider sends the provider a refresh with rt, as a holder
// about to be killed would, and returns the refresh token of its answer.
func refreshAtProvider(t *testing.T, p *providertest.Provider, rt string) string {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, p.RefreshURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID(), p.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the lost refresh: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.RefreshToken == "" {
		t.Fatalf("the lost refresh: got HTTP %d, want 200 with a new refresh token", resp.StatusCode)
	}
	return tok.RefreshToken
}

// TestRefreshLostByAKilledHolderEndsInNeedsReauth: without a grace period,
// a refresh whose holder was killed before storing the answer makes the
// next read, once the lease has expired, mark the connection needs_reauth
// at once without asking the provider again (its refresh token is dead):
// the old tokens kept, the last error saying what happened (no secret),
// the lease cleared, one connection.needs_reauth event.
func TestRefreshLostByAKilledHolderEndsInNeedsReauth(t *testing.T) {
	e, p, events := crashEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, "")
	first := e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	lostRT := killMidRefresh(t, e, p, alice)

	// While the lease lasts, a read waits for the (dead) holder; its HTTP
	// timeout bounds nothing here, so look only after the lease.
	e.clock.Advance(crashLease + time.Second)
	_, err := e.engine.Token(e.ctx, alice)
	if latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("read after the lost refresh: got %v, want needs_reauth", err)
	}
	if got := p.RefreshCalls(); got != 1 {
		t.Fatalf("got %d refreshes at the provider, want 1 (the lost one) and none after", got)
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusNeedsReauth || conn.Values["refresh_token"] != first.Values["refresh_token"] ||
		conn.Values["access_token"] != first.Values["access_token"] {
		t.Fatalf("got status %q, old tokens kept %v; want needs_reauth with the old tokens", conn.Status,
			conn.Values["refresh_token"] == first.Values["refresh_token"] && conn.Values["access_token"] == first.Values["access_token"])
	}
	if !strings.Contains(conn.LastError, "interrupted") || strings.Contains(conn.LastError, lostRT) ||
		strings.Contains(conn.LastError, first.Values["refresh_token"]) {
		t.Fatalf("got last error %q, want it to say the refresh was interrupted, with no token", conn.LastError)
	}
	if !conn.RefreshingUntil.IsZero() {
		t.Fatalf("got the lease until %v, want it cleared", conn.RefreshingUntil)
	}
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH || p.RefreshCalls() != 1 {
		t.Fatalf("next read: got %v and %d refreshes, want needs_reauth and no new refresh", err, p.RefreshCalls())
	}
	evs := events()
	if len(evs) != 2 || evs[1].Type != latchkey.EventConnectionNeedsReauth || evs[1].Status != latchkey.StatusNeedsReauth ||
		evs[1].Error == nil || !strings.Contains(evs[1].Error.Description, "interrupted") {
		t.Fatalf("got events %+v, want connection.created then connection.needs_reauth saying the refresh was interrupted", evs)
	}
}

// TestRefreshLostByAKilledHolderRetriesWithinTheGracePeriod: the config
// declares a refresh_token_grace_period of 1 minute and the provider keeps
// a rotated refresh token usable for as long. A read 16 s after the killed
// holder started (its lease of 15 s expired) refreshes again with the
// stored, previous refresh token, and the connection is fresh with the
// provider's newest refresh token.
func TestRefreshLostByAKilledHolderRetriesWithinTheGracePeriod(t *testing.T) {
	e, p, events := crashEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshGrace: time.Minute}, "1m")
	first := e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	lostRT := killMidRefresh(t, e, p, alice)

	e.clock.Advance(crashLease + time.Second)
	fresh, err := e.engine.Token(e.ctx, alice)
	if err != nil {
		t.Fatalf("read within the grace period: got %v, want a fresh token", err)
	}
	if got := p.RefreshCalls(); got != 2 {
		t.Fatalf("got %d refreshes at the provider, want 2 (the lost one and the retry)", got)
	}
	stored, _ := e.store.GetConnection(e.ctx, alice)
	rt := stored.Values["refresh_token"]
	if stored.Status != latchkey.StatusActive || !p.ValidAccessToken(fresh.Values["access_token"]) ||
		stored.Values["access_token"] != fresh.Values["access_token"] || fresh.Expired(e.clock.Now(), time.Minute) {
		t.Fatalf("got status %q, a valid access token %v; want active with a fresh token", stored.Status, p.ValidAccessToken(fresh.Values["access_token"]))
	}
	if rt == first.Values["refresh_token"] || rt == lostRT || !p.ValidRefreshToken(rt) || !stored.RefreshingUntil.IsZero() {
		t.Fatalf("stored refresh token: the previous one %v, the lost one %v, valid %v; want the retry's new one, lease cleared",
			rt == first.Values["refresh_token"], rt == lostRT, p.ValidRefreshToken(rt))
	}
	// The provider's grace ends 1 minute after the lost refresh: only the
	// stored token lives on.
	e.clock.Advance(time.Minute)
	if p.ValidRefreshToken(first.Values["refresh_token"]) || !p.ValidRefreshToken(rt) {
		t.Fatal("after the provider's grace: want only the stored refresh token alive")
	}
	evs := events()
	if len(evs) != 2 || evs[1].Type != latchkey.EventConnectionRefreshed {
		t.Fatalf("got events %+v, want connection.created then connection.refreshed", evs)
	}
}

// TestRefreshLostByAKilledHolderPastTheGracePeriodEndsInNeedsReauth: the
// same, but the next read comes 2 minutes after the lost refresh started,
// past the config's grace period of 1 minute: needs_reauth without asking
// the provider, the old tokens kept.
func TestRefreshLostByAKilledHolderPastTheGracePeriodEndsInNeedsReauth(t *testing.T) {
	e, p, _ := crashEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshGrace: time.Minute}, "1m")
	first := e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	killMidRefresh(t, e, p, alice)

	e.clock.Advance(2 * time.Minute)
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.ENEEDSREAUTH {
		t.Fatalf("read past the grace period: got %v, want needs_reauth", err)
	}
	if got := p.RefreshCalls(); got != 1 {
		t.Fatalf("got %d refreshes at the provider, want only the lost one", got)
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusNeedsReauth || conn.Values["refresh_token"] != first.Values["refresh_token"] {
		t.Fatalf("got status %q, old refresh token kept %v; want needs_reauth with it", conn.Status,
			conn.Values["refresh_token"] == first.Values["refresh_token"])
	}
}

// TestTokenLostByAKilledHolderIsFetchedAgainWithClientCredentials: a
// client-credentials config has no refresh token to lose, so an expired
// lease is taken over and a new token fetched.
func TestTokenLostByAKilledHolderIsFetchedAgainWithClientCredentials(t *testing.T) {
	e, p, _ := crashEnv(t, providertest.Options{AccessTTL: time.Hour}, "")
	key := latchkey.ConnectionKey{App: "crm", Org: "acme", Config: "machine"}
	if _, err := e.engine.Token(e.ctx, key); err != nil {
		t.Fatalf("first token: %v", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.store.UpdateConnection(e.ctx, key, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.RefreshingUntil = e.clock.Now().Add(crashLease)
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	calls := p.TokenCalls()
	e.clock.Advance(crashLease + time.Second)
	conn, err := e.engine.Token(e.ctx, key)
	if err != nil || !p.ValidAccessToken(conn.Values["org_token"]) || conn.Status != latchkey.StatusActive {
		t.Fatalf("read after the lost fetch: got %v, want a fresh org token", err)
	}
	if got := p.TokenCalls() - calls; got != 1 {
		t.Fatalf("got %d token requests, want 1", got)
	}
}

// claimAsAKilledWorker claims every due connection for a refresh, as the
// refresh worker's batch claim does, with crashLease, and returns what it
// claimed: a worker killed right after the claim leaves them leased and
// never sent to the provider.
func claimAsAKilledWorker(t *testing.T, e *env) []latchkey.Connection {
	t.Helper()
	now := e.clock.Now()
	claimed, lost, err := e.store.ClaimRefreshes(e.ctx, now, now.Add(5*time.Minute), 200, crashLease)
	if err != nil || len(lost) != 0 {
		t.Fatalf("the claim: got %v and lost %v, want no error and none lost", err, lost)
	}
	out := make([]latchkey.Connection, len(claimed))
	for i, c := range claimed {
		if !c.Conn.WorkerLease {
			t.Fatalf("claimed %s: got WorkerLease false, want the claim's lease marked as the worker's", c.Conn.User)
		}
		out[i] = c.Conn
	}
	return out
}

// refreshesWith counts the refreshes the provider received with each
// refresh token.
func refreshesWith(p *providertest.Provider) map[string]int {
	sent := map[string]int{}
	for _, r := range p.RequestsTo(providertest.EndpointRefresh) {
		rt := r.Form.Get("refresh_token")
		if rt == "" {
			if v, ok := r.JSON["refresh_token"].(string); ok {
				rt = v
			}
		}
		sent[rt]++
	}
	return sent
}

// TestRefreshesClaimedByAKilledWorkerAreRefreshedAgain: a worker claims a
// batch of four expired connections (their refresh leases taken in one
// statement) and is killed before asking the provider for any. No grace
// period is declared and the provider rotates refresh tokens, yet once the
// leases expire none of them is needs_reauth: the claim's leases are the
// worker's, so the provider may never have been asked, and each is
// refreshed again with its stored refresh token. The next worker round
// refreshes the two its batch of two finds lost, token reads the other two;
// each connection is refreshed exactly once at the provider, with its
// stored refresh token, and ends active with the provider's new tokens.
func TestRefreshesClaimedByAKilledWorkerAreRefreshedAgain(t *testing.T) {
	e, p, events := crashEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, "")
	first := map[latchkey.ConnectionKey]latchkey.Connection{}
	var keys []latchkey.ConnectionKey
	for _, user := range []string{"alice", "bob", "carol", "dave"} {
		k := alice
		k.User = user
		first[k] = e.mustConnect(p, k)
		keys = append(keys, k)
	}
	e.clock.Advance(2 * time.Hour)
	if got := claimAsAKilledWorker(t, e); len(got) != len(keys) {
		t.Fatalf("got %d claimed, want %d", len(got), len(keys))
	}
	if got := p.RefreshCalls(); got != 0 {
		t.Fatalf("got %d refreshes at the provider, want none: the worker was killed before asking", got)
	}

	e.clock.Advance(crashLease + time.Second)
	w := &flow.Worker{Engine: e.engine, Batch: 2}
	if n, err := w.RunOnce(e.ctx); err != nil || n != 2 {
		t.Fatalf("worker round: got %d claimed (%v), want the 2 lost refreshes of its batch", n, err)
	}
	if got := p.RefreshCalls(); got != 2 {
		t.Fatalf("after the worker round: got %d refreshes at the provider, want 2", got)
	}
	for _, k := range keys {
		conn, err := e.engine.Token(e.ctx, k)
		if err != nil {
			t.Fatalf("read of %s: got %v, want its fresh token", k.User, err)
		}
		if conn.Status != latchkey.StatusActive || !p.ValidAccessToken(conn.Values["access_token"]) ||
			conn.Values["access_token"] == first[k].Values["access_token"] {
			t.Fatalf("read of %s: got status %q, a new valid access token %v; want active with a new token", k.User, conn.Status,
				p.ValidAccessToken(conn.Values["access_token"]) && conn.Values["access_token"] != first[k].Values["access_token"])
		}
	}
	if got := p.RefreshCalls(); got != int64(len(keys)) {
		t.Fatalf("got %d refreshes at the provider, want %d: one each", got, len(keys))
	}
	sent := refreshesWith(p)
	for _, k := range keys {
		stored, _ := e.store.GetConnection(e.ctx, k)
		rt := stored.Values["refresh_token"]
		if sent[first[k].Values["refresh_token"]] != 1 {
			t.Fatalf("%s: got %d refreshes with its stored refresh token, want 1", k.User, sent[first[k].Values["refresh_token"]])
		}
		if stored.Status != latchkey.StatusActive || rt == first[k].Values["refresh_token"] || !p.ValidRefreshToken(rt) ||
			!stored.RefreshingUntil.IsZero() || stored.WorkerLease || stored.Failures != 0 {
			t.Fatalf("%s: got status %q, a new valid refresh token %v, lease %v (worker's %v), failures %d; want active, the rotated token, no lease",
				k.User, stored.Status, rt != first[k].Values["refresh_token"] && p.ValidRefreshToken(rt), stored.RefreshingUntil,
				stored.WorkerLease, stored.Failures)
		}
	}
	refreshed := 0
	for _, ev := range events() {
		switch ev.Type {
		case latchkey.EventConnectionRefreshed:
			refreshed++
		case latchkey.EventConnectionNeedsReauth, latchkey.EventConnectionRefreshFailed:
			t.Fatalf("got event %s for %s, want none: nothing was lost", ev.Type, ev.User)
		}
	}
	if refreshed != len(keys) {
		t.Fatalf("got %d connection.refreshed events, want %d", refreshed, len(keys))
	}
}

// TestRefreshClaimedByAKilledWorkerAfterAskingLetsTheProviderDecide: the
// worker claimed the connection, asked the provider (which rotated the
// refresh token) and was killed before writing the answer. The claim's
// lease does not say whether the provider was asked, so the next read
// refreshes again with the stored refresh token; the provider refuses it
// (invalid_grant) and the connection is needs_reauth through the refusal
// handling, its old tokens kept, after exactly one more refresh.
func TestRefreshClaimedByAKilledWorkerAfterAskingLetsTheProviderDecide(t *testing.T) {
	e, p, events := crashEnv(t, providertest.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, "")
	first := e.mustConnect(p, alice)
	e.clock.Advance(2 * time.Hour)
	claimAsAKilledWorker(t, e)
	refreshAtProvider(t, p, first.Values["refresh_token"])

	e.clock.Advance(crashLease + time.Second)
	_, err := e.engine.Token(e.ctx, alice)
	if code := providerCode(err); code != "invalid_grant" {
		t.Fatalf("read after the lost answer: got %v, want the provider's invalid_grant", err)
	}
	if got := p.RefreshCalls(); got != 2 {
		t.Fatalf("got %d refreshes at the provider, want 2 (the lost one and the retry)", got)
	}
	conn, _ := e.store.GetConnection(e.ctx, alice)
	if conn.Status != latchkey.StatusNeedsReauth || conn.Values["refresh_token"] != first.Values["refresh_token"] ||
		!conn.RefreshingUntil.IsZero() || conn.WorkerLease {
		t.Fatalf("got status %q, old refresh token kept %v, lease %v (worker's %v); want needs_reauth with it, no lease",
			conn.Status, conn.Values["refresh_token"] == first.Values["refresh_token"], conn.RefreshingUntil, conn.WorkerLease)
	}
	evs := events()
	if len(evs) != 2 || evs[1].Type != latchkey.EventConnectionNeedsReauth || evs[1].Error == nil || evs[1].Error.Code != "invalid_grant" {
		t.Fatalf("got events %+v, want connection.created then connection.needs_reauth with invalid_grant", evs)
	}
}
