package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// RunTests runs the conformance suite. open returns a new, empty store for
// each subtest and arranges its cleanup with t.Cleanup.
//
// Every test runs per environment: first in dev, then in prod on the same
// database, which then holds what the dev run left, so that each test also
// shows that what it reads, lists, claims and deletes stays in its own
// environment. The isolation tests put the same names in both. Tests that
// use fixed link tokens, states or API key ids (identifiers unique across
// environments, as the random ones Latchkey issues are) run prod's turn on
// a store of its own.
func RunTests(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"AppPutGetList", testAppPutGetList},
		{"AppReplaceKeepsInstallationsAndConnections", testAppReplaceKeeps},
		{"AppCreateRefusesATakenName", testAppCreateRefusesATakenName},
		{"AppDeleteCascades", testAppDeleteCascades},
		{"InstallationRoundTripAndReplace", testInstallations},
		{"InstallationDelete", testInstallationDelete},
		{"ConnectionPutGet", testConnectionPutGet},
		{"ConnectionVersionConflict", testConnectionVersionConflict},
		{"ConnectionVersionOfDeleted", testConnectionVersionOfDeleted},
		{"ConnectionValueOwnership", testConnectionValueOwnership},
		{"ConnectionReplaceDropsValues", testConnectionReplaceDropsValues},
		{"ConnectionList", testConnectionList},
		{"ConnectionDelete", testConnectionDelete},
		{"OrgConnection", testOrgConnection},
		{"UpdateConnectionSerialises", testUpdateConnectionSerialises},
		{"UpdateConnectionErrorWritesNothing", testUpdateConnectionError},
		{"UserValues", testUserValues},
		{"ReadsOwnWrites", testReadsOwnWrites},
		{"ReadersAndWriters", testReadersAndWriters},
		{"ReturnedConnectionIsOwn", testReturnedConnectionIsOwn},
		{"LinkSingleUse", testLinkSingleUse},
		{"LinkConcurrentTakers", testLinkConcurrentTakers},
		{"LinkExpiredAndUnknown", testLinkExpiredAndUnknown},
		{"StateSingleUse", testStateSingleUse},
		{"StateConcurrentTakers", testStateConcurrentTakers},
		{"StateExpiredAndUnknown", testStateExpiredAndUnknown},
		{"DeleteExpired", testDeleteExpired},
		{"APIKeys", testAPIKeys},
		{"APIKeyLastUse", testAPIKeyLastUse},
		{"AuditLog", testAuditLog},
		{"ClaimRefreshes", testClaimRefreshes},
		{"Webhooks", testWebhooks},
		{"InstallLinks", testInstallLinks},
		{"AppDroppingConfigsWithConnections", testAppDroppingConfigs},
		{"AppDroppingConfigsWhileConnecting", testAppDroppingConfigsWhileConnecting},
		{"OAuthServer", testOAuthServer},
		{"ConnectionSearch", testConnectionSearch},
		{"Traces", testTraces},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			for _, env := range []latchkey.Environment{latchkey.EnvDev, latchkey.EnvProd} {
				if env == latchkey.EnvProd && fixedIDs[tc.name] {
					s = open(t)
				}
				t.Run(string(env), func(t *testing.T) { tc.run(t, s.In(env)) })
			}
		})
	}
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open(t)) })
	t.Run("Environments", func(t *testing.T) { testEnvironments(t, open(t)) })
}

// fixedIDs are the tests that use fixed link tokens, states or API key ids.
var fixedIDs = map[string]bool{"AppDeleteCascades": true, "LinkSingleUse": true, "LinkConcurrentTakers": true,
	"LinkExpiredAndUnknown": true, "StateExpiredAndUnknown": true, "DeleteExpired": true, "APIKeys": true,
	"APIKeyLastUse": true}

var (
	ctx = context.Background()
	// t0 is a whole second, so that every backend keeps it exactly.
	t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
)

// Configs are the names of the OAuth configs of App's document besides
// "main": a store refuses a new connection of a config the document lacks.
var Configs = []string{"alt", "cc", "crm", "github", "second"}

// App returns a small app document called name whose OAuth config "main"
// fixes a client secret, with a config of each name of Configs.
func App(name string) latchkey.App {
	app := smallApp(name)
	for _, c := range Configs {
		app.OAuthConfigs = append(app.OAuthConfigs, latchkey.OAuthConfig{Name: c, AccessTokenVariableName: "access_token"})
	}
	return app
}

func smallApp(name string) latchkey.App {
	return latchkey.App{
		Name:  name,
		Label: "Demo " + name,
		Settings: []latchkey.Setting{
			{Name: "client_id", Level: latchkey.LevelOrg, Required: true},
			{Name: "access_token", Level: latchkey.LevelUser, Secret: true},
			{Name: "refresh_token", Level: latchkey.LevelUser, Secret: true},
		},
		OAuthConfigs: []latchkey.OAuthConfig{{
			Name:                     "main",
			AccessTokenVariableName:  "access_token",
			RefreshTokenVariableName: "refresh_token",
			Values:                   map[string]string{"client_secret": "cs-" + name + "-never-in-plain-text"},
		}},
	}
}

func mustPutApp(tb testing.TB, s store.Store, name string) latchkey.App {
	tb.Helper()
	app, err := s.PutApp(ctx, App(name))
	if err != nil {
		tb.Fatalf("PutApp(%q): %v", name, err)
	}
	return app
}

func key(app, org, user, config string) latchkey.ConnectionKey {
	return latchkey.ConnectionKey{App: app, Org: org, User: user, Config: config}
}

func mustPutConn(tb testing.TB, s store.Store, c latchkey.Connection) latchkey.Connection {
	tb.Helper()
	saved, err := s.PutConnection(ctx, c)
	if err != nil {
		tb.Fatalf("PutConnection(%v): %v", c.ConnectionKey, err)
	}
	return saved
}

func conn(k latchkey.ConnectionKey, values map[string]string) latchkey.Connection {
	return latchkey.Connection{ConnectionKey: k, Status: latchkey.StatusActive, TokenType: "Bearer", Scope: "read write",
		ExpiresAt: t0.Add(time.Hour), RefreshedAt: t0, Values: values}
}

func wantErr(tb testing.TB, what string, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("%s: got error %v, want one matching %v", what, err, target)
	}
}

func wantValues(tb testing.TB, what string, got, want map[string]string) {
	tb.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !maps.Equal(got, want) {
		tb.Fatalf("%s: got values %v, want %v", what, keys(got), keys(want))
	}
}

// keys shows a value map by its names and lengths, so that a failure does
// not print tokens.
func keys(m map[string]string) string {
	out := "{"
	for _, k := range sortedKeys(m) {
		out += fmt.Sprintf(" %s(%d)", k, len(m[k]))
	}
	return out + " }"
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func testAppPutGetList(t *testing.T, s store.Store) {
	_, err := s.GetApp(ctx, "nope")
	wantErr(t, "GetApp of an unknown app", err, store.ErrNotFound)

	b := mustPutApp(t, s, "beta")
	if b.Revision != 1 {
		t.Fatalf("first PutApp: got revision %d, want 1", b.Revision)
	}
	if b.CreatedAt.IsZero() || b.UpdatedAt.IsZero() {
		t.Fatalf("first PutApp: got zero timestamps %v %v, want them set", b.CreatedAt, b.UpdatedAt)
	}
	mustPutApp(t, s, "alpha")

	got, err := s.GetApp(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if got.Label != "Demo beta" || got.Revision != 1 || len(got.Settings) != 3 {
		t.Fatalf("GetApp: got label %q revision %d %d settings, want %q 1 3", got.Label, got.Revision, len(got.Settings), "Demo beta")
	}
	if cs := got.OAuthConfigs[0].Values["client_secret"]; cs != "cs-beta-never-in-plain-text" {
		t.Fatalf("GetApp: got a client secret of %d bytes, want the stored one", len(cs))
	}
	if !got.CreatedAt.Equal(b.CreatedAt) {
		t.Fatalf("GetApp: got created_at %v, want %v", got.CreatedAt, b.CreatedAt)
	}

	next := App("beta")
	next.Label = "Beta 2"
	next.Revision = 99 // set by the store, whatever the caller sends
	b2, err := s.PutApp(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Revision != 2 || b2.Label != "Beta 2" {
		t.Fatalf("second PutApp: got revision %d label %q, want 2 %q", b2.Revision, b2.Label, "Beta 2")
	}
	if !b2.CreatedAt.Equal(b.CreatedAt) || b2.UpdatedAt.Before(b.UpdatedAt) {
		t.Fatalf("second PutApp: got created %v updated %v, want created %v kept and updated not before %v", b2.CreatedAt, b2.UpdatedAt, b.CreatedAt, b.UpdatedAt)
	}
	if got, _ := s.GetApp(ctx, "beta"); got.Revision != 2 || got.Label != "Beta 2" {
		t.Fatalf("GetApp after replace: got revision %d label %q, want 2 %q", got.Revision, got.Label, "Beta 2")
	}

	apps, err := s.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].Name != "alpha" || apps[1].Name != "beta" || apps[1].Revision != 2 {
		t.Fatalf("ListApps: got %v, want alpha then beta (revision 2)", apps)
	}
	wantErr(t, "DeleteApp of an unknown app", s.DeleteApp(ctx, "nope"), store.ErrNotFound)
}

// testAppCreateRefusesATakenName: a create-only put makes a new app, and
// of an existing one changes nothing and is a conflict naming the field
// name; of concurrent creates of one name, exactly one succeeds.
func testAppCreateRefusesATakenName(t *testing.T, s store.Store) {
	created, _, err := s.PutAppWith(ctx, App("demo"), store.PutAppOptions{Create: true})
	if err != nil || created.Revision != 1 {
		t.Fatalf("creating a new app: got revision %d, %v, want revision 1", created.Revision, err)
	}
	other := App("demo")
	other.Label = "Someone else's demo"
	_, _, err = s.PutAppWith(ctx, other, store.PutAppOptions{Create: true})
	wantErr(t, "creating an app whose name is taken", err, store.ErrConflict)
	var le *latchkey.Error
	if !errors.As(err, &le) || len(le.Fields) != 1 || le.Fields[0].Field != "name" {
		t.Fatalf("got %v, want a conflict naming the field name", err)
	}
	if got, _ := s.GetApp(ctx, "demo"); got.Revision != 1 || got.Label != created.Label {
		t.Fatalf("a refused create changed the app: got revision %d label %q, want 1 %q", got.Revision, got.Label, created.Label)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.PutAppWith(ctx, App("race"), store.PutAppOptions{Create: true})
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Errorf("a concurrent create: got %v, want success or ErrConflict", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("concurrent creates of one name: got %d successes, want 1", wins)
	}
}

func testAppReplaceKeeps(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"client_id": "id-1"}}); err != nil {
		t.Fatal(err)
	}
	k := key("demo", "acme", "alice", "main")
	mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1"}))
	mustPutApp(t, s, "demo")
	inst, err := s.GetInstallation(ctx, "demo", "acme")
	if err != nil {
		t.Fatalf("GetInstallation after replacing the app: %v", err)
	}
	wantValues(t, "installation after replacing the app", inst.Values, map[string]string{"client_id": "id-1"})
	c, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatalf("GetConnection after replacing the app: %v", err)
	}
	wantValues(t, "connection after replacing the app", c.Values, map[string]string{"access_token": "at-1"})
}

func testAppDeleteCascades(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	mustPutApp(t, s, "other")
	for _, app := range []string{"demo", "other"} {
		if _, err := s.PutInstallation(ctx, latchkey.Installation{App: app, Org: "acme", Values: map[string]string{"client_id": "id"}}); err != nil {
			t.Fatal(err)
		}
		mustPutConn(t, s, conn(key(app, "acme", "alice", "main"), map[string]string{"access_token": "at"}))
		if err := s.CreateLink(ctx, "link-"+app, latchkey.Link{ConnectionKey: key(app, "acme", "alice", "main"), ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateState(ctx, "state-"+app, latchkey.AuthState{ConnectionKey: key(app, "acme", "alice", "main"), CodeVerifier: "v", ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetApp(ctx, "demo")
	wantErr(t, "GetApp after delete", err, store.ErrNotFound)
	_, err = s.GetInstallation(ctx, "demo", "acme")
	wantErr(t, "GetInstallation after delete", err, store.ErrNotFound)
	_, err = s.GetConnection(ctx, key("demo", "acme", "alice", "main"))
	wantErr(t, "GetConnection after delete", err, store.ErrNotFound)
	_, err = s.GetLink(ctx, "link-demo", t0)
	wantErr(t, "GetLink after delete", err, store.ErrNotFound)
	_, err = s.TakeState(ctx, "state-demo", t0)
	wantErr(t, "TakeState after delete", err, store.ErrNotFound)

	// A new app of the same name starts empty.
	mustPutApp(t, s, "demo")
	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "user values of a recreated app", uv, nil)
	if conns, err := s.ListConnections(ctx, "demo", ""); err != nil || len(conns) != 0 {
		t.Fatalf("ListConnections of a recreated app: got %d, %v, want none", len(conns), err)
	}

	// The other app is untouched.
	if _, err := s.GetConnection(ctx, key("other", "acme", "alice", "main")); err != nil {
		t.Fatalf("the other app's connection: %v", err)
	}
	if _, err := s.TakeLink(ctx, "link-other", t0); err != nil {
		t.Fatalf("the other app's link: %v", err)
	}
	if st, err := s.TakeState(ctx, "state-other", t0); err != nil || st.CodeVerifier != "v" {
		t.Fatalf("the other app's state: got %v, want it whole", err)
	}
}

func testInstallations(t *testing.T, s store.Store) {
	_, err := s.PutInstallation(ctx, latchkey.Installation{App: "nope", Org: "acme"})
	wantErr(t, "PutInstallation of an unknown app", err, store.ErrNotFound)
	mustPutApp(t, s, "demo")
	_, err = s.GetInstallation(ctx, "demo", "acme")
	wantErr(t, "GetInstallation before any", err, store.ErrNotFound)

	vals := map[string]string{"client_id": "id-1", "client_secret": "org-secret", "empty": ""}
	inst, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: vals})
	if err != nil {
		t.Fatal(err)
	}
	if inst.App != "demo" || inst.Org != "acme" || inst.UpdatedAt.IsZero() {
		t.Fatalf("PutInstallation: got %s/%s updated %v, want demo/acme with a time", inst.App, inst.Org, inst.UpdatedAt)
	}
	got, err := s.GetInstallation(ctx, "demo", "acme")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "GetInstallation", got.Values, vals)

	// Replacing drops the values not given again.
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"client_id": "id-2"}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetInstallation(ctx, "demo", "acme")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "GetInstallation after replace", got.Values, map[string]string{"client_id": "id-2"})

	// Replacing with no values keeps the installation, empty.
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "beta"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetInstallation(ctx, "demo", "beta"); err != nil || len(got.Values) != 0 {
		t.Fatalf("empty installation: got %d values, %v, want 0, nil", len(got.Values), err)
	}

	list, err := s.ListInstallations(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Org != "acme" || list[1].Org != "beta" {
		t.Fatalf("ListInstallations: got %d installations, want acme then beta", len(list))
	}
	wantValues(t, "ListInstallations acme", list[0].Values, map[string]string{"client_id": "id-2"})
	if list, err := s.ListInstallations(ctx, "nope"); err != nil || len(list) != 0 {
		t.Fatalf("ListInstallations of an unknown app: got %d, %v, want none", len(list), err)
	}
}

func testInstallationDelete(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	for _, org := range []string{"acme", "beta"} {
		if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: org, Values: map[string]string{"client_id": "id-" + org}}); err != nil {
			t.Fatal(err)
		}
		mustPutConn(t, s, conn(key("demo", org, "alice", "main"), map[string]string{"access_token": "at-" + org}))
		mustPutConn(t, s, conn(key("demo", org, "", "cc"), map[string]string{"org_token": "ot-" + org}))
	}
	if err := s.DeleteInstallation(ctx, "demo", "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetInstallation(ctx, "demo", "acme")
	wantErr(t, "GetInstallation after delete", err, store.ErrNotFound)
	_, err = s.GetConnection(ctx, key("demo", "acme", "alice", "main"))
	wantErr(t, "the org's user connection after delete", err, store.ErrNotFound)
	_, err = s.GetConnection(ctx, key("demo", "acme", "", "cc"))
	wantErr(t, "the org's own connection after delete", err, store.ErrNotFound)
	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "user values after delete", uv, nil)
	wantErr(t, "DeleteInstallation again", s.DeleteInstallation(ctx, "demo", "acme"), store.ErrNotFound)

	// The other org is untouched.
	inst, err := s.GetInstallation(ctx, "demo", "beta")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "the other org", inst.Values, map[string]string{"client_id": "id-beta"})
	c, err := s.GetConnection(ctx, key("demo", "beta", "alice", "main"))
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "the other org's connection", c.Values, map[string]string{"access_token": "at-beta"})
}

func testConnectionPutGet(t *testing.T, s store.Store) {
	k := key("demo", "acme", "alice", "main")
	_, err := s.PutConnection(ctx, conn(k, nil))
	wantErr(t, "PutConnection of an unknown app", err, store.ErrNotFound)
	_, err = s.GetConnection(ctx, k)
	wantErr(t, "GetConnection before any", err, store.ErrNotFound)

	mustPutApp(t, s, "demo")
	in := conn(k, map[string]string{"access_token": "at-1", "refresh_token": "rt-1", "team_id": "T1"})
	in.LastError, in.Failures = "invalid_grant", 2
	saved := mustPutConn(t, s, in)
	if saved.Version != 1 {
		t.Fatalf("first PutConnection: got version %d, want 1", saved.Version)
	}
	if saved.CreatedAt.IsZero() || saved.UpdatedAt.IsZero() {
		t.Fatalf("first PutConnection: got zero timestamps, want them set")
	}
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnectionKey != k || got.Status != latchkey.StatusActive || got.TokenType != "Bearer" || got.Scope != "read write" ||
		got.Version != 1 || got.LastError != "invalid_grant" || got.Failures != 2 {
		t.Fatalf("GetConnection: got %+v, want what was put at version 1", got)
	}
	if !got.ExpiresAt.Equal(in.ExpiresAt) || !got.RefreshedAt.Equal(in.RefreshedAt) || !got.CreatedAt.Equal(saved.CreatedAt) {
		t.Fatalf("GetConnection: got expires %v refreshed %v created %v, want %v %v %v", got.ExpiresAt, got.RefreshedAt, got.CreatedAt, in.ExpiresAt, in.RefreshedAt, saved.CreatedAt)
	}
	wantValues(t, "GetConnection", got.Values, in.Values)

	// No expiry and no refresh time stay zero.
	k2 := key("demo", "acme", "bob", "main")
	c2 := conn(k2, map[string]string{"access_token": "at-b"})
	c2.ExpiresAt, c2.RefreshedAt = time.Time{}, time.Time{}
	mustPutConn(t, s, c2)
	got, err = s.GetConnection(ctx, k2)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.IsZero() || !got.RefreshedAt.IsZero() {
		t.Fatalf("GetConnection: got expires %v refreshed %v, want both zero", got.ExpiresAt, got.RefreshedAt)
	}
}

func testConnectionVersionConflict(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	k := key("demo", "acme", "alice", "main")
	v1 := mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1"}))

	// Version 0 replaces whatever is stored.
	v2 := mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-2"}))
	if v2.Version != 2 || !v2.CreatedAt.Equal(v1.CreatedAt) {
		t.Fatalf("PutConnection version 0: got version %d created %v, want 2 and created %v kept", v2.Version, v2.CreatedAt, v1.CreatedAt)
	}

	// A stale version is refused and changes nothing.
	stale := conn(k, map[string]string{"access_token": "at-stale"})
	stale.Version = v1.Version
	_, err := s.PutConnection(ctx, stale)
	wantErr(t, "PutConnection with a stale version", err, store.ErrConflict)
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Values["access_token"] != "at-2" {
		t.Fatalf("after a conflict: got version %d, want 2 with the at-2 token", got.Version)
	}

	// The current version is accepted.
	cur := conn(k, map[string]string{"access_token": "at-3"})
	cur.Version = 2
	v3 := mustPutConn(t, s, cur)
	if v3.Version != 3 {
		t.Fatalf("PutConnection with the current version: got %d, want 3", v3.Version)
	}
}

func testConnectionVersionOfDeleted(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	k := key("demo", "acme", "alice", "main")
	v1 := mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1"}))
	if err := s.DeleteConnection(ctx, k); err != nil {
		t.Fatal(err)
	}
	// A writer that read version 1 before the user disconnected must not
	// bring the connection back.
	stale := conn(k, map[string]string{"access_token": "at-stale"})
	stale.Version = v1.Version
	_, err := s.PutConnection(ctx, stale)
	wantErr(t, "PutConnection with a version of a deleted connection", err, store.ErrConflict)
	_, err = s.GetConnection(ctx, k)
	wantErr(t, "GetConnection after the refused put", err, store.ErrNotFound)
	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "user values after the refused put", uv, nil)
}

func testConnectionValueOwnership(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"client_id": "id"}}); err != nil {
		t.Fatal(err)
	}
	main := key("demo", "acme", "alice", "main")
	alt := key("demo", "acme", "alice", "alt")
	mustPutConn(t, s, conn(main, map[string]string{"access_token": "at-main", "refresh_token": "rt-main"}))

	// Another connection of the same user storing the same setting takes it
	// over: the last connection made wins.
	mustPutConn(t, s, conn(alt, map[string]string{"access_token": "at-alt"}))
	got, err := s.GetConnection(ctx, main)
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "the first connection after another took its setting", got.Values, map[string]string{"refresh_token": "rt-main"})
	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "user values after the takeover", uv, map[string]string{"access_token": "at-alt", "refresh_token": "rt-main"})

	// An org-level connection cannot take an installation's value, and an
	// installation cannot take an org-level connection's.
	cc := key("demo", "acme", "", "cc")
	_, err = s.PutConnection(ctx, conn(cc, map[string]string{"client_id": "stolen"}))
	wantErr(t, "an org-level connection storing an installation value", err, store.ErrConflict)
	mustPutConn(t, s, conn(cc, map[string]string{"org_token": "ot"}))
	_, err = s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"org_token": "mine"}})
	wantErr(t, "an installation naming an org-level connection's value", err, store.ErrConflict)
	inst, err := s.GetInstallation(ctx, "demo", "acme")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "installation after refused writes", inst.Values, map[string]string{"client_id": "id"})
	got, err = s.GetConnection(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "org-level connection after refused writes", got.Values, map[string]string{"org_token": "ot"})
}

func testConnectionReplaceDropsValues(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	k := key("demo", "acme", "alice", "main")
	mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1", "refresh_token": "rt-1", "team_id": "T1"}))
	mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-2"}))
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "after replace", got.Values, map[string]string{"access_token": "at-2"})
	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "user values after replace", uv, map[string]string{"access_token": "at-2"})
}

func testConnectionList(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	mustPutApp(t, s, "other")
	for _, k := range []latchkey.ConnectionKey{
		key("demo", "beta", "zed", "main"), key("demo", "acme", "bob", "main"),
		key("demo", "acme", "alice", "main"), key("demo", "acme", "", "cc"), key("other", "acme", "alice", "main"),
	} {
		mustPutConn(t, s, conn(k, map[string]string{"access_token": "secret"}))
	}
	all, err := s.ListConnections(ctx, "demo", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []latchkey.ConnectionKey{key("demo", "acme", "", "cc"), key("demo", "acme", "alice", "main"), key("demo", "acme", "bob", "main"), key("demo", "beta", "zed", "main")}
	if len(all) != len(want) {
		t.Fatalf("ListConnections(demo): got %d, want %d", len(all), len(want))
	}
	for i, c := range all {
		if c.ConnectionKey != want[i] {
			t.Fatalf("ListConnections(demo)[%d]: got %v, want %v", i, c.ConnectionKey, want[i])
		}
		if len(c.Values) != 0 {
			t.Fatalf("ListConnections(demo)[%d]: got %d values, want none listed", i, len(c.Values))
		}
		if c.Version != 1 || c.Status != latchkey.StatusActive {
			t.Fatalf("ListConnections(demo)[%d]: got version %d status %q, want 1 active", i, c.Version, c.Status)
		}
	}
	acme, err := s.ListConnections(ctx, "demo", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(acme) != 3 {
		t.Fatalf("ListConnections(demo, acme): got %d, want 3", len(acme))
	}
}

func testConnectionDelete(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	a := key("demo", "acme", "alice", "main")
	b := key("demo", "acme", "alice", "github")
	mustPutConn(t, s, conn(a, map[string]string{"access_token": "at-a", "refresh_token": "rt-a"}))
	mustPutConn(t, s, conn(b, map[string]string{"gh_token": "gh"}))
	if err := s.DeleteConnection(ctx, a); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetConnection(ctx, a)
	wantErr(t, "GetConnection after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteConnection again", s.DeleteConnection(ctx, a), store.ErrNotFound)
	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "user values after deleting one connection", uv, map[string]string{"gh_token": "gh"})
}

func testOrgConnection(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"client_id": "id"}}); err != nil {
		t.Fatal(err)
	}
	k := key("demo", "acme", "", "cc")
	mustPutConn(t, s, conn(k, map[string]string{"org_token": "ot"}))
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "org-level connection", got.Values, map[string]string{"org_token": "ot"})
	inst, err := s.GetInstallation(ctx, "demo", "acme")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "installation beside an org-level connection", inst.Values, map[string]string{"client_id": "id"})

	// Replacing the installation's values leaves the connection's alone.
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"client_id": "id-2"}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "org-level connection after the installation changed", got.Values, map[string]string{"org_token": "ot"})
	if err := s.DeleteConnection(ctx, k); err != nil {
		t.Fatal(err)
	}
	inst, err = s.GetInstallation(ctx, "demo", "acme")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "installation after deleting the org-level connection", inst.Values, map[string]string{"client_id": "id-2"})
}

func testUpdateConnectionSerialises(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	k := key("demo", "acme", "alice", "main")
	_, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) { return c, nil })
	wantErr(t, "UpdateConnection of an unknown connection", err, store.ErrNotFound)
	mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-0", "counter": "0"}))

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
				var count int
				fmt.Sscan(c.Values["counter"], &count)
				time.Sleep(time.Millisecond) // widen the window a lost update needs
				c.Failures++
				c.Values = maps.Clone(c.Values)
				c.Values["counter"] = fmt.Sprint(count + 1)
				c.Values["access_token"] = fmt.Sprintf("at-%d", count+1)
				return c, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UpdateConnection: %v", err)
		}
	}
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Failures != n || got.Values["counter"] != fmt.Sprint(n) || got.Version != n+1 {
		t.Fatalf("after %d concurrent updates: got failures %d counter %q version %d, want %d %d %d", n, got.Failures, got.Values["counter"], got.Version, n, n, n+1)
	}
	if got.Values["access_token"] != fmt.Sprintf("at-%d", n) {
		t.Fatalf("after %d concurrent updates: got another token, want at-%d", n, n)
	}
}

func testUpdateConnectionError(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	k := key("demo", "acme", "alice", "main")
	before := mustPutConn(t, s, conn(k, map[string]string{"access_token": "at-1", "refresh_token": "rt-1"}))
	boom := errors.New("provider said no")
	_, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.Status = latchkey.StatusNeedsReauth
		c.Values = map[string]string{"access_token": "at-2"}
		return c, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateConnection: got %v, want the update's error", err)
	}
	got, err := s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != before.Version || got.Status != latchkey.StatusActive {
		t.Fatalf("after a failed update: got version %d status %q, want %d active", got.Version, got.Status, before.Version)
	}
	wantValues(t, "after a failed update", got.Values, map[string]string{"access_token": "at-1", "refresh_token": "rt-1"})

	// A successful update keeps the key and created time whatever it returns.
	saved, err := s.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.User = "mallory"
		c.Values = map[string]string{"access_token": "at-2"}
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if saved.ConnectionKey != k || saved.Version != before.Version+1 || !saved.CreatedAt.Equal(before.CreatedAt) {
		t.Fatalf("UpdateConnection: got key %v version %d, want %v version %d", saved.ConnectionKey, saved.Version, k, before.Version+1)
	}
	if _, err := s.GetConnection(ctx, key("demo", "acme", "mallory", "main")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an update moved the connection to another user: got %v, want not found", err)
	}
	got, err = s.GetConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "after a successful update", got.Values, map[string]string{"access_token": "at-2"})
}

func testUserValues(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	if _, err := s.PutInstallation(ctx, latchkey.Installation{App: "demo", Org: "acme", Values: map[string]string{"client_id": "id"}}); err != nil {
		t.Fatal(err)
	}
	mustPutConn(t, s, conn(key("demo", "acme", "alice", "main"), map[string]string{"access_token": "at", "refresh_token": "rt"}))
	mustPutConn(t, s, conn(key("demo", "acme", "alice", "github"), map[string]string{"gh_token": "gh"}))
	mustPutConn(t, s, conn(key("demo", "acme", "bob", "main"), map[string]string{"access_token": "bob-at"}))
	mustPutConn(t, s, conn(key("demo", "beta", "alice", "main"), map[string]string{"access_token": "beta-at"}))
	mustPutConn(t, s, conn(key("demo", "acme", "", "cc"), map[string]string{"org_token": "ot"}))

	uv, err := s.UserValues(ctx, "demo", "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "UserValues(alice)", uv, map[string]string{"access_token": "at", "refresh_token": "rt", "gh_token": "gh"})
	uv, err = s.UserValues(ctx, "demo", "acme", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, "UserValues(nobody)", uv, nil)
}

func link(app string, expires time.Time) latchkey.Link {
	return latchkey.Link{ConnectionKey: key(app, "acme", "alice", "main"), ReturnTo: "https://app.example/done", Popup: true, ExpiresAt: expires}
}

func testLinkSingleUse(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	in := link("demo", t0.Add(10*time.Minute))
	if err := s.CreateLink(ctx, "tok-1", in); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateLink with a token in use", s.CreateLink(ctx, "tok-1", in), store.ErrConflict)
	wantErr(t, "CreateLink for an unknown app", s.CreateLink(ctx, "tok-2", link("nope", t0.Add(time.Minute))), store.ErrNotFound)
	for i := 0; i < 2; i++ {
		got, err := s.GetLink(ctx, "tok-1", t0)
		if err != nil {
			t.Fatalf("GetLink #%d: %v", i+1, err)
		}
		if got.ConnectionKey != in.ConnectionKey || got.ReturnTo != in.ReturnTo || !got.Popup || !got.ExpiresAt.Equal(in.ExpiresAt) {
			t.Fatalf("GetLink #%d: got %+v, want %+v", i+1, got, in)
		}
	}
	got, err := s.TakeLink(ctx, "tok-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnectionKey != in.ConnectionKey {
		t.Fatalf("TakeLink: got %v, want %v", got.ConnectionKey, in.ConnectionKey)
	}
	_, err = s.TakeLink(ctx, "tok-1", t0)
	wantErr(t, "second TakeLink", err, store.ErrNotFound)
	_, err = s.GetLink(ctx, "tok-1", t0)
	wantErr(t, "GetLink after take", err, store.ErrNotFound)
}

func testLinkConcurrentTakers(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	if err := s.CreateLink(ctx, "tok", link("demo", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	wins := race(t, 20, func() error { _, err := s.TakeLink(ctx, "tok", t0); return err })
	if wins != 1 {
		t.Fatalf("20 concurrent TakeLink: got %d winners, want exactly 1", wins)
	}
}

func testLinkExpiredAndUnknown(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	exp := t0.Add(time.Minute)
	if err := s.CreateLink(ctx, "tok", link("demo", exp)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLink(ctx, "tok", exp); err != nil {
		t.Fatalf("GetLink at its expiry: got %v, want the link (it expires after)", err)
	}
	_, err := s.GetLink(ctx, "tok", exp.Add(time.Second))
	wantErr(t, "GetLink after expiry", err, store.ErrExpired)
	_, err = s.TakeLink(ctx, "tok", exp.Add(time.Second))
	wantErr(t, "TakeLink after expiry", err, store.ErrExpired)
	_, err = s.GetLink(ctx, "unknown", t0)
	wantErr(t, "GetLink of an unknown token", err, store.ErrNotFound)
	_, err = s.TakeLink(ctx, "unknown", t0)
	wantErr(t, "TakeLink of an unknown token", err, store.ErrNotFound)
	// A failed take of an expired link used nothing.
	if _, err := s.TakeLink(ctx, "tok", t0); err != nil {
		t.Fatalf("TakeLink before expiry after a refused take: %v", err)
	}
}

func state(app, verifier string, expires time.Time) latchkey.AuthState {
	return latchkey.AuthState{ConnectionKey: key(app, "acme", "alice", "main"), ReturnTo: "https://app.example/done",
		RedirectURI: "https://latchkey.example/callback", CodeVerifier: verifier, ExpiresAt: expires,
		BrowserHash: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"}
}

func testStateSingleUse(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	in := state("demo", "verifier-that-is-secret", t0.Add(10*time.Minute))
	if err := s.CreateState(ctx, "st-1", in); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateState with a state in use", s.CreateState(ctx, "st-1", in), store.ErrConflict)
	got, err := s.TakeState(ctx, "st-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnectionKey != in.ConnectionKey || got.CodeVerifier != in.CodeVerifier || got.RedirectURI != in.RedirectURI ||
		got.ReturnTo != in.ReturnTo || !got.ExpiresAt.Equal(in.ExpiresAt) || got.BrowserHash != in.BrowserHash {
		t.Fatalf("TakeState: got key %v redirect %q return %q expires %v browser %q, want %v %q %q %v %q (and the verifier)", got.ConnectionKey, got.RedirectURI, got.ReturnTo, got.ExpiresAt, got.BrowserHash, in.ConnectionKey, in.RedirectURI, in.ReturnTo, in.ExpiresAt, in.BrowserHash)
	}
	_, err = s.TakeState(ctx, "st-1", t0)
	wantErr(t, "second TakeState", err, store.ErrNotFound)

	if err := s.CreateState(ctx, "st-2", state("demo", "", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TakeState(ctx, "st-2", t0); err != nil || got.CodeVerifier != "" {
		t.Fatalf("TakeState without a verifier: got %d-byte verifier, %v, want none", len(got.CodeVerifier), err)
	}
}

func testStateConcurrentTakers(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	if err := s.CreateState(ctx, "st", state("demo", "v", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	wins := race(t, 20, func() error { _, err := s.TakeState(ctx, "st", t0); return err })
	if wins != 1 {
		t.Fatalf("20 concurrent TakeState: got %d winners, want exactly 1", wins)
	}
}

func testStateExpiredAndUnknown(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	exp := t0.Add(time.Minute)
	if err := s.CreateState(ctx, "st", state("demo", "v", exp)); err != nil {
		t.Fatal(err)
	}
	_, err := s.TakeState(ctx, "st", exp.Add(time.Second))
	wantErr(t, "TakeState after expiry", err, store.ErrExpired)
	_, err = s.TakeState(ctx, "unknown", t0)
	wantErr(t, "TakeState of an unknown state", err, store.ErrNotFound)
}

func testDeleteExpired(t *testing.T, s store.Store) {
	mustPutApp(t, s, "demo")
	now := t0.Add(time.Hour)
	if err := s.CreateLink(ctx, "old", link("demo", now.Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(ctx, "new", link("demo", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateState(ctx, "old", state("demo", "v", now.Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateState(ctx, "new", state("demo", "v", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExpired(ctx, now); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetLink(ctx, "old", t0)
	wantErr(t, "an expired link after DeleteExpired", err, store.ErrNotFound)
	_, err = s.TakeState(ctx, "old", t0)
	wantErr(t, "an expired state after DeleteExpired", err, store.ErrNotFound)
	if _, err := s.GetLink(ctx, "new", now); err != nil {
		t.Fatalf("a live link after DeleteExpired: %v", err)
	}
	if _, err := s.TakeState(ctx, "new", now); err != nil {
		t.Fatalf("a live state after DeleteExpired: %v", err)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	_, err := s.GetAPIKey(ctx, "nope")
	wantErr(t, "GetAPIKey of an unknown id", err, store.ErrNotFound)
	older := latchkey.APIKey{ID: "k1", Name: "ci", Scope: latchkey.ScopeAdmin, Hash: []byte{1, 2, 3}, CreatedAt: t0}
	newer := latchkey.APIKey{ID: "k2", Name: "backend", Scope: latchkey.ScopeRuntime, App: "demo", Hash: []byte{4, 5, 6}, CreatedAt: t0.Add(time.Minute)}
	for _, k := range []latchkey.APIKey{older, newer} {
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "CreateAPIKey with an id in use", s.CreateAPIKey(ctx, older), store.ErrConflict)
	got, err := s.GetAPIKey(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "backend" || got.Scope != latchkey.ScopeRuntime || got.App != "demo" || string(got.Hash) != string(newer.Hash) ||
		!got.CreatedAt.Equal(newer.CreatedAt) || got.RevokedAt != nil {
		t.Fatalf("GetAPIKey: got %+v, want %+v", got, newer)
	}
	list, err := s.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "k2" || list[1].ID != "k1" {
		t.Fatalf("ListAPIKeys: got %d keys, want k2 then k1", len(list))
	}
	at := t0.Add(time.Hour)
	if err := s.RevokeAPIKey(ctx, "k1", at); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RevokeAPIKey of an unknown id", s.RevokeAPIKey(ctx, "nope", at), store.ErrNotFound)
	got, err = s.GetAPIKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
		t.Fatalf("GetAPIKey after revoke: got revoked_at %v, want %v", got.RevokedAt, at)
	}
	if got.CanRead("demo") {
		t.Fatalf("a revoked key can still read")
	}
}

// A key's last use is written at most once a minute: a second touch
// within latchkey.APIKeyUseResolution of the stored one changes nothing,
// one a minute later does, and one earlier than the stored use never
// takes it back. The root store (authentication, which knows no
// environment yet) touches a key of any environment.
func testAPIKeyLastUse(t *testing.T, s store.Store) {
	if err := s.CreateAPIKey(ctx, latchkey.APIKey{ID: "used", Scope: latchkey.ScopeAdmin, Hash: []byte{1}, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	lastUse := func(when string) *time.Time {
		t.Helper()
		k, err := s.GetAPIKey(ctx, "used")
		if err != nil {
			t.Fatalf("GetAPIKey %s: %v", when, err)
		}
		return k.LastUsedAt
	}
	if got := lastUse("before any use"); got != nil {
		t.Fatalf("LastUsedAt of a new key: got %v, want nil", got)
	}
	first := t0.Add(time.Hour)
	touch := func(at time.Time, want time.Time, when string) {
		t.Helper()
		if err := s.TouchAPIKey(ctx, "used", at); err != nil {
			t.Fatalf("TouchAPIKey %s: %v", when, err)
		}
		if got := lastUse(when); got == nil || !got.Equal(want) {
			t.Fatalf("LastUsedAt %s: got %v, want %v", when, got, want)
		}
	}
	touch(first, first, "after the first use")
	touch(first.Add(59*time.Second), first, "after a second use within the minute")
	touch(first.Add(-time.Hour), first, "after a use older than the stored one")
	second := first.Add(latchkey.APIKeyUseResolution + time.Second)
	touch(second, second, "after a use a minute later")
	list, err := s.ListAPIKeys(ctx)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(second) {
		t.Fatalf("ListAPIKeys: got %+v (%v), want the key last used at %v", list, err, second)
	}
	if err := s.TouchAPIKey(ctx, "nope", second); err != nil {
		t.Fatalf("TouchAPIKey of an unknown id: got %v, want nil", err)
	}
	root := s.In("")
	third := second.Add(2 * latchkey.APIKeyUseResolution)
	if err := root.TouchAPIKey(ctx, "used", third); err != nil {
		t.Fatalf("TouchAPIKey on the root store: %v", err)
	}
	if got := lastUse("after a use touched on the root store"); got == nil || !got.Equal(third) {
		t.Fatalf("LastUsedAt after a touch on the root store: got %v, want %v", got, third)
	}
}

// race runs f n times at once and returns how many calls succeeded; every
// failure must be ErrNotFound.
func race(tb testing.TB, n int, f func() error) int {
	tb.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- f()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotFound):
			tb.Errorf("a concurrent taker: got %v, want success or not found", err)
		}
	}
	return wins
}
