package flow_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

const callbackURL = "https://latchkey.test/oauth/callback"

// env is an engine on a real SQLite store with a manual clock.
type env struct {
	tb     testing.TB
	ctx    context.Context
	engine *flow.Engine
	store  *sqlstore.Store
	clock  *providertest.Clock
}

// browserNonces is what the test's browser keeps from Authorize: its nonce,
// by state, whichever env (replica) authorized.
var browserNonces sync.Map

func newEnv(tb testing.TB) *env {
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
	e := flow.New(flow.Config{Store: st, Now: clock.Now, CallbackURL: callbackURL, ConnectURL: "https://latchkey.test/connect"})
	return &env{tb: tb, ctx: ctx, engine: e, store: st, clock: clock}
}

// save saves an app document, failing the test on error.
func (e *env) save(doc string) latchkey.App {
	e.tb.Helper()
	app, err := latchkey.ParseApp([]byte(doc))
	if err != nil {
		e.tb.Fatalf("ParseApp: %v", err)
	}
	saved, err := e.engine.SaveApp(e.ctx, app)
	if err != nil {
		e.tb.Fatalf("SaveApp: %v", err)
	}
	return saved
}

func (e *env) install(app, org string, values map[string]string) {
	e.tb.Helper()
	if _, err := e.store.PutInstallation(e.ctx, latchkey.Installation{App: app, Org: org, Values: values}); err != nil {
		e.tb.Fatalf("PutInstallation: %v", err)
	}
}

// authorize creates a link for key, uses it, and returns the provider's
// authorization URL.
func (e *env) authorize(key latchkey.ConnectionKey) *url.URL {
	e.tb.Helper()
	link, err := e.engine.CreateLink(e.ctx, flow.LinkRequest{Key: key})
	if err != nil {
		e.tb.Fatalf("CreateLink: %v", err)
	}
	token := link.URL[strings.LastIndex(link.URL, "/")+1:]
	a, err := e.engine.Authorize(e.ctx, token)
	if err != nil {
		e.tb.Fatalf("Authorize: %v", err)
	}
	browserNonces.Store(a.State, a.BrowserNonce)
	u, err := url.Parse(a.URL)
	if err != nil {
		e.tb.Fatal(err)
	}
	return u
}

// connect runs a whole authorization-code flow against p and returns how
// the callback ended.
func (e *env) connect(p *providertest.Provider, key latchkey.ConnectionKey) (flow.Result, error) {
	e.tb.Helper()
	cb := p.Authorize(e.tb, e.authorize(key).String())
	return e.callback(cb.Query())
}

// callback is the provider's redirect back, from the browser that pressed
// Allow: it brings the nonce of the query's state.
func (e *env) callback(q url.Values) (flow.Result, error) {
	e.tb.Helper()
	nonce, _ := browserNonces.Load(q.Get("state"))
	s, _ := nonce.(string)
	return e.engine.Callback(e.ctx, q, s)
}

// mustConnect is connect that fails the test on error.
func (e *env) mustConnect(p *providertest.Provider, key latchkey.ConnectionKey) latchkey.Connection {
	e.tb.Helper()
	res, err := e.connect(p, key)
	if err != nil {
		e.tb.Fatalf("Callback: %v", err)
	}
	return res.Connection
}

// providerCode returns the provider's error code carried by err.
func providerCode(err error) string {
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Provider == nil {
		return ""
	}
	return le.Provider.Code
}
