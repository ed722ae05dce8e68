package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
	"github.com/latchkey/latchkey/pkg/webhook"
)

const app = `
name: crm
settings:
  - {name: client_id, level: org, required: true}
  - {name: client_secret, level: org, secret: true, required: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: generic
    link_url: "%[1]s/oauth/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}"
    token_url: "%[1]s/oauth/token"
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`

// env is an engine and a dispatcher on one real SQLite store, the engine
// on a manual clock, against a fake provider that rotates refresh tokens.
type env struct {
	tb       testing.TB
	ctx      context.Context
	store    *sqlstore.Store
	engine   *flow.Engine
	dispatch *webhook.Dispatcher
	provider *providertest.Provider
	clock    *providertest.Clock
}

func newEnv(tb testing.TB, cfg webhook.Config) *env {
	tb.Helper()
	key, err := secretbox.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(tb.TempDir(), "latchkey.db"), Keyring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	clock := providertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	p := providertest.New(tb, providertest.Options{Now: clock.Now, AccessTTL: time.Hour, RotateRefreshTokens: true})
	cfg.Store = st
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	d := webhook.New(cfg)
	d.Start()
	tb.Cleanup(d.Close)
	e := flow.New(flow.Config{Store: st, Now: clock.Now, CallbackURL: "https://latchkey.test/oauth/callback",
		ConnectURL: "https://latchkey.test/connect", Events: d.Emit})
	doc, err := latchkey.ParseApp(fmt.Appendf(nil, app, p.BaseURL()))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.SaveApp(ctx, doc); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.PutInstallation(ctx, latchkey.Installation{App: "crm", Org: "acme",
		Values: map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret()}}); err != nil {
		tb.Fatal(err)
	}
	return &env{tb: tb, ctx: ctx, store: st, engine: e, dispatch: d, provider: p, clock: clock}
}

// hook registers a webhook of crm at url for events (all when none).
func (e *env) hook(url string, events ...string) store.Webhook {
	e.tb.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		e.tb.Fatal(err)
	}
	w := store.Webhook{ID: "wh_" + fmt.Sprint(time.Now().UnixNano()), App: "crm", URL: url, Events: events, Secret: secret}
	if err := e.store.CreateWebhook(e.ctx, w); err != nil {
		e.tb.Fatal(err)
	}
	return w
}

func (e *env) connect(key latchkey.ConnectionKey) latchkey.Connection {
	e.tb.Helper()
	link, err := e.engine.CreateLink(e.ctx, flow.LinkRequest{Key: key})
	if err != nil {
		e.tb.Fatal(err)
	}
	a, err := e.engine.Authorize(e.ctx, link.URL[strings.LastIndex(link.URL, "/")+1:])
	if err != nil {
		e.tb.Fatal(err)
	}
	res, err := e.engine.Callback(e.ctx, e.provider.Authorize(e.tb, a.URL).Query(), a.BrowserNonce)
	if err != nil {
		e.tb.Fatalf("Callback: %v", err)
	}
	return res.Connection
}

// receiver is an endpoint that verifies each delivery's signature and keeps
// the events; fail is how many first requests it answers 500.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	fail   int
	calls  int
	events []latchkey.Event
	bodies []string
	errs   []string
}

func newReceiver(tb testing.TB, fail int) *receiver {
	r := &receiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if err := webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			r.errs = append(r.errs, err.Error())
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.calls <= r.fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var ev latchkey.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			r.errs = append(r.errs, err.Error())
		}
		if req.Header.Get(webhook.EventHeader) != string(ev.Type) || req.Header.Get(webhook.DeliveryHeader) != ev.ID {
			r.errs = append(r.errs, "headers do not match the body")
		}
		r.events = append(r.events, ev)
		r.bodies = append(r.bodies, string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(r.Close)
	return r
}

// wait waits until the receiver holds n events.
func (r *receiver) wait(tb testing.TB, n int) []latchkey.Event {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got, errs := append([]latchkey.Event(nil), r.events...), r.errs
		r.mu.Unlock()
		if len(errs) > 0 {
			tb.Fatalf("receiver: got errors %v, want none", errs)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("got %d events, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var (
	alice = latchkey.ConnectionKey{App: "crm", Org: "acme", User: "alice", Config: "generic"}
	bob   = latchkey.ConnectionKey{App: "crm", Org: "acme", User: "bob", Config: "generic"}
)

// TestFlowEventsReachTheEndpointSigned drives a real flow (connect, a
// refresh, a refused refresh, a disconnect) and sees each event arrive at
// the endpoint, signed, in order of the flow, with no token in any body.
func TestFlowEventsReachTheEndpointSigned(t *testing.T) {
	e := newEnv(t, webhook.Config{})
	r := newReceiver(t, 0)
	r.secret = e.hook(r.URL).Secret
	filtered := newReceiver(t, 0)
	filtered.secret = e.hook(filtered.URL, string(latchkey.EventConnectionDeleted)).Secret

	first := e.connect(alice)
	r.wait(t, 1)
	e.clock.Advance(2 * time.Hour)
	refreshed, err := e.engine.Token(e.ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, 2)
	e.provider.RevokeAll()
	e.clock.Advance(2 * time.Hour)
	if _, err := e.engine.Token(e.ctx, alice); latchkey.ErrorCode(err) != latchkey.EPROVIDER {
		t.Fatalf("refused refresh: got %v, want the provider's error", err)
	}
	r.wait(t, 3)
	e.connect(bob)
	r.wait(t, 4)
	if err := e.engine.Disconnect(e.ctx, bob, false); err != nil {
		t.Fatal(err)
	}
	got := r.wait(t, 5)

	want := []struct {
		typ    latchkey.EventType
		user   string
		status latchkey.ConnectionStatus
	}{
		{latchkey.EventConnectionCreated, "alice", latchkey.StatusActive},
		{latchkey.EventConnectionRefreshed, "alice", latchkey.StatusActive},
		{latchkey.EventConnectionNeedsReauth, "alice", latchkey.StatusNeedsReauth},
		{latchkey.EventConnectionCreated, "bob", latchkey.StatusActive},
		{latchkey.EventConnectionDeleted, "bob", ""},
	}
	for i, w := range want {
		ev := got[i]
		if ev.Type != w.typ || ev.User != w.user || ev.Status != w.status || ev.App != "crm" || ev.Org != "acme" || ev.Config != "generic" ||
			!strings.HasPrefix(ev.ID, "evt_") || ev.CreatedAt.IsZero() {
			t.Errorf("event %d: got %+v, want %s of %s, status %q", i, ev, w.typ, w.user, w.status)
		}
	}
	if e := got[2].Error; e == nil || e.Code != "invalid_grant" {
		t.Errorf("needs_reauth: got error %+v, want the provider's invalid_grant", e)
	}
	for _, b := range r.bodies {
		for _, secret := range []string{first.Values["access_token"], first.Values["refresh_token"], refreshed.Values["access_token"],
			refreshed.Values["refresh_token"], e.provider.ClientSecret()} {
			if secret != "" && strings.Contains(b, secret) {
				t.Fatalf("a body holds a token or secret: %s", b)
			}
		}
	}
	if fe := filtered.wait(t, 1); len(fe) != 1 || fe[0].Type != latchkey.EventConnectionDeleted {
		t.Fatalf("filtered webhook: got %+v, want only connection.deleted", fe)
	}
}

// TestRetriedUntilDelivered has an endpoint fail twice: the event arrives on
// the third attempt, and the delivery log shows the three attempts.
func TestRetriedUntilDelivered(t *testing.T) {
	var outcomes []string
	var mu sync.Mutex
	e := newEnv(t, webhook.Config{Observe: func(o string) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }})
	r := newReceiver(t, 2)
	w := e.hook(r.URL)
	r.secret = w.Secret
	e.connect(alice)
	got := r.wait(t, 1)
	if got[0].Type != latchkey.EventConnectionCreated {
		t.Fatalf("got %+v, want connection.created", got[0])
	}
	var log []store.WebhookDelivery
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		log, err = e.store.ListDeliveries(e.ctx, "crm", w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) == 1 && log[0].State == store.DeliveryDelivered || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(log) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(log))
	}
	d := log[0]
	if d.State != store.DeliveryDelivered || d.AttemptCount != 3 || len(d.Attempts) != 3 || d.EventID != got[0].ID {
		t.Fatalf("got %+v, want delivered after 3 attempts", d)
	}
	for i, code := range []int{500, 500, 204} {
		a := d.Attempts[i]
		if a.StatusCode != code || (code == 500) != (a.Error == "HTTP 500") || a.At.IsZero() {
			t.Errorf("attempt %d: got %+v, want status %d", i+1, a, code)
		}
	}
	if !d.Attempts[1].At.After(d.Attempts[0].At) {
		t.Errorf("got attempts at %v and %v, want the retry later", d.Attempts[0].At, d.Attempts[1].At)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(outcomes, ",") != "retry,retry,delivered" {
		t.Errorf("got outcomes %v, want retry, retry, delivered", outcomes)
	}
}

// TestGivesUpAfterMaxAttempts has an endpoint that never answers well: the
// delivery is failed after MaxAttempts, each attempt logged with its error.
func TestGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, webhook.Config{MaxAttempts: 3})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // connections are refused
	w := e.hook(dead.URL)
	e.connect(alice)
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := e.store.ListDeliveries(e.ctx, "crm", w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) == 1 && log[0].State == store.DeliveryFailed {
			if len(log[0].Attempts) != 3 || log[0].Attempts[2].Error == "" || log[0].Attempts[2].StatusCode != 0 {
				t.Fatalf("got %+v, want 3 attempts with their errors", log[0])
			}
			if strings.Contains(log[0].Attempts[0].Error, dead.URL) {
				t.Fatalf("got error %q, want no URL", log[0].Attempts[0].Error)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %+v, want one failed delivery", log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWorkerRefreshesReachTheEndpoint: the refresh worker hands the events
// of a batch write to the dispatcher at once; each reaches the endpoint.
func TestWorkerRefreshesReachTheEndpoint(t *testing.T) {
	e := newEnv(t, webhook.Config{})
	r := newReceiver(t, 0)
	r.secret = e.hook(r.URL, string(latchkey.EventConnectionRefreshed)).Secret
	e.connect(alice)
	e.connect(bob)
	e.clock.Advance(58 * time.Minute) // within the worker's 5-minute margin of the hour tokens
	if n, err := (&flow.Worker{Engine: e.engine}).RunOnce(e.ctx); err != nil || n != 2 {
		t.Fatalf("worker: claimed %d (%v), want alice's and bob's connections", n, err)
	}
	got := r.wait(t, 2)
	users := map[string]bool{}
	for _, ev := range got {
		if ev.Type != latchkey.EventConnectionRefreshed || ev.Status != latchkey.StatusActive {
			t.Fatalf("got %+v, want connection.refreshed of an active connection", ev)
		}
		users[ev.User] = true
	}
	if !users["alice"] || !users["bob"] {
		t.Fatalf("got events for %v, want alice and bob", users)
	}
}

// TestWebhooksOfAnAppAreReadOncePerFewSeconds: every refresh is an event,
// so the dispatcher keeps an app's webhooks for a few seconds. A webhook
// created behind its back (another replica) is not seen at once; after
// Forget (what this replica's API calls) it is.
func TestWebhooksOfAnAppAreReadOncePerFewSeconds(t *testing.T) {
	e := newEnv(t, webhook.Config{})
	e.connect(alice) // no webhook yet: the app's empty list is kept
	r := newReceiver(t, 0)
	w := e.hook(r.URL)
	r.secret = w.Secret
	carol := latchkey.ConnectionKey{App: "crm", Org: "acme", User: "carol", Config: "generic"}
	e.connect(bob)
	if log, _ := e.store.ListDeliveries(e.ctx, "crm", w.ID, 0); len(log) != 0 {
		t.Fatalf("right after a webhook appeared behind the dispatcher's back: got %d deliveries, want the kept list used", len(log))
	}
	e.dispatch.Forget("crm")
	e.connect(carol)
	got := r.wait(t, 1)
	if got[0].User != "carol" || got[0].Type != latchkey.EventConnectionCreated {
		t.Fatalf("after Forget: got %+v, want carol's connection.created", got)
	}
}

// TestFinishedDeliveriesArePruned: a failed delivery older than the
// retention leaves the log; a pending one would stay (store conformance).
func TestFinishedDeliveriesArePruned(t *testing.T) {
	e := newEnv(t, webhook.Config{MaxAttempts: 1, Retention: time.Millisecond})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	w := e.hook(dead.URL)
	e.connect(alice)
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := e.store.ListDeliveries(e.ctx, "crm", w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) == 1 && log[0].State == store.DeliveryFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %+v, want one failed delivery", log)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := e.dispatch.Prune(e.ctx); err != nil || n != 1 {
		t.Fatalf("prune: got %d (%v), want the failed delivery", n, err)
	}
	if log, _ := e.store.ListDeliveries(e.ctx, "crm", w.ID, 0); len(log) != 0 {
		t.Fatalf("after pruning: got %+v, want an empty log", log)
	}
}

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	sig := webhook.Sign("whsec_s", now, body)
	if !strings.HasPrefix(sig, "t=1800000000,v1=") {
		t.Fatalf("got %q, want t=1800000000,v1=…", sig)
	}
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   string
		at     time.Time
		want   error
	}{
		{"good", "whsec_s", sig, string(body), now, nil},
		{"good, a minute late", "whsec_s", sig, string(body), now.Add(time.Minute), nil},
		{"another secret", "whsec_t", sig, string(body), now, webhook.ErrBadSignature},
		{"tampered body", "whsec_s", sig, `{"id":"evt_2"}`, now, webhook.ErrBadSignature},
		{"replayed later", "whsec_s", sig, string(body), now.Add(time.Hour), webhook.ErrTooOld},
		{"moved timestamp", "whsec_s", strings.Replace(sig, "t=1800000000", "t=1800000001", 1), string(body), now, webhook.ErrBadSignature},
		{"no header", "whsec_s", "", string(body), now, webhook.ErrNoSignature},
		{"rotated: a second v1 matches", "whsec_s", "t=1800000000,v1=00," + sig[len("t=1800000000,"):], string(body), now, nil},
	} {
		if got := webhook.Verify(tc.secret, tc.header, []byte(tc.body), tc.at, 0); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://example.com/hooks/latchkey": true,
		"http://127.0.0.1:8080/hook":         true,
		"http://localhost/hook":              true,
		"http://[::1]:9000/":                 true,
		"http://example.com/hook":            false,
		"ftp://example.com/":                 false,
		"/relative":                          false,
		"https://user:pw@example.com/":       false,
		"":                                   false,
	} {
		if err := webhook.CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q): got %v, want ok=%v", raw, err, ok)
		}
	}
}
