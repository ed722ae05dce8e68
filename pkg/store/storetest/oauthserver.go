package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// testOAuthServer sets an environment's OAuth server up as an admin would
// (settings, a group, a scope, an OAuth app), authorizes the app, issues
// and rotates its tokens, and checks each refusal names what is wrong and
// writes nothing.
func testOAuthServer(t *testing.T, s store.Store) {
	env := string(s.Environment())

	// OAuth support is off until an admin turns it on.
	o, err := s.GetOAuthServer(ctx)
	if err != nil || o.Enabled {
		t.Fatalf("GetOAuthServer of a fresh environment: got %+v (err %v), want off", o, err)
	}
	if _, err := s.PutOAuthServer(ctx, latchkey.OAuthServer{Enabled: true, AccessTokenTTL: latchkey.Duration(time.Hour)}); err != nil {
		t.Fatalf("PutOAuthServer: %v", err)
	}
	if o, _ = s.GetOAuthServer(ctx); !o.Enabled || o.AccessTokenTTL != latchkey.Duration(time.Hour) || o.RefreshTokenTTL != 0 {
		t.Fatalf("GetOAuthServer after turning it on: got %+v", o)
	}
	_, err = s.PutOAuthServer(ctx, latchkey.OAuthServer{Enabled: false, AccessTokenTTL: latchkey.Duration(time.Second)})
	wantField(t, "a 1 s access token", err, "access_token_ttl")
	if o, _ = s.GetOAuthServer(ctx); !o.Enabled {
		t.Fatalf("a refused PutOAuthServer changed the settings: %+v", o)
	}

	// A scope needs groups that exist; an app needs scopes that exist.
	_, err = s.PutOAuthScope(ctx, latchkey.OAuthScope{Name: "read", Description: "Read your apps", Groups: []string{"readers"}})
	wantField(t, "a scope of an unknown group", err, "groups[0]")
	if _, err := s.PutOAuthGroup(ctx, latchkey.OAuthGroup{Name: "readers", Permissions: []latchkey.Permission{latchkey.PermAppsRead, latchkey.PermConnectionsRead}, Apps: []string{"crm"}}); err != nil {
		t.Fatalf("PutOAuthGroup: %v", err)
	}
	_, err = s.PutOAuthGroup(ctx, latchkey.OAuthGroup{Name: "bad", Permissions: []latchkey.Permission{"root"}})
	wantField(t, "a group with an unknown permission", err, "permissions[0]")
	if _, err := s.PutOAuthScope(ctx, latchkey.OAuthScope{Name: "read", Description: "Read your apps", Groups: []string{"readers"}}); err != nil {
		t.Fatalf("PutOAuthScope: %v", err)
	}
	groups, err := s.ListOAuthGroups(ctx)
	if err != nil || len(groups) != 1 || !slices.Equal(groups[0].Apps, []string{"crm"}) || !groups[0].Allows(latchkey.PermAppsRead, "crm") || groups[0].Allows(latchkey.PermAppsRead, "billing") {
		t.Fatalf("ListOAuthGroups: got %+v (err %v), want readers limited to crm", groups, err)
	}

	client := latchkey.OAuthClient{Name: "dashboard", ClientID: "cid-" + env, Label: "Partner dashboard", RedirectURI: "https://dash.example/cb",
		Scopes: []string{"read", "write"}, SecretHash: []byte("hash")}
	_, err = s.CreateOAuthClient(ctx, client)
	wantField(t, "an app with an unknown scope", err, "scopes[1]")
	client.Scopes = []string{"read"}
	if _, err := s.CreateOAuthClient(ctx, client); err != nil {
		t.Fatalf("CreateOAuthClient: %v", err)
	}
	again := client
	again.ClientID = "cid2-" + env
	_, err = s.CreateOAuthClient(ctx, again)
	wantErr(t, "an app of the same name", err, store.ErrConflict)
	got, err := s.GetOAuthClientByID(ctx, "cid-"+env)
	if err != nil || got.Name != "dashboard" || got.Public || string(got.SecretHash) != "hash" || got.HasIcon {
		t.Fatalf("GetOAuthClientByID: got %+v (err %v)", got, err)
	}

	// Scopes and groups in use cannot be deleted; the error names the users.
	err = s.DeleteOAuthScope(ctx, "read")
	wantErr(t, "deleting a scope an app uses", err, store.ErrConflict)
	if err == nil || !strings.Contains(err.Error(), "dashboard") {
		t.Fatalf("deleting a used scope: %v, want it to name the OAuth app dashboard", err)
	}
	err = s.DeleteOAuthGroup(ctx, "readers")
	wantErr(t, "deleting a group a scope uses", err, store.ErrConflict)

	// The icon is stored apart and read by client id.
	if err := s.SetOAuthClientIcon(ctx, "dashboard", []byte("\x89PNG...")); err != nil {
		t.Fatalf("SetOAuthClientIcon: %v", err)
	}
	if icon, err := s.GetOAuthClientIcon(ctx, "cid-"+env); err != nil || string(icon) != "\x89PNG..." {
		t.Fatalf("GetOAuthClientIcon: got %q (err %v)", icon, err)
	}
	if got, _ := s.GetOAuthClient(ctx, "dashboard"); !got.HasIcon {
		t.Fatalf("after an upload the app says it has no icon: %+v", got)
	}
	updated := client
	updated.Label, updated.RedirectURI = "Dashboard", "https://dash.example/callback"
	if u, err := s.UpdateOAuthClient(ctx, updated); err != nil || u.ClientID != "cid-"+env || u.Label != "Dashboard" || !u.HasIcon {
		t.Fatalf("UpdateOAuthClient: got %+v (err %v), want the client id and icon kept", u, err)
	}

	// A person authorizes the app; authorizing more scopes extends it.
	a, err := s.GrantOAuthAuthorization(ctx, "cid-"+env, "ada@example.com", []string{"read"}, t0)
	if err != nil || !a.Covers([]string{"read"}) || a.Covers([]string{"read", "write"}) {
		t.Fatalf("GrantOAuthAuthorization: got %+v (err %v)", a, err)
	}
	b, err := s.GrantOAuthAuthorization(ctx, "cid-"+env, "ada@example.com", []string{"write"}, t0)
	if err != nil || b.ID != a.ID || !b.Covers([]string{"read", "write"}) {
		t.Fatalf("a second grant: got %+v (err %v), want authorization %s with both scopes", b, err, a.ID)
	}
	if f, err := s.FindOAuthAuthorization(ctx, "cid-"+env, "ada@example.com"); err != nil || f.ID != a.ID {
		t.Fatalf("FindOAuthAuthorization: got %+v (err %v)", f, err)
	}
	_, err = s.FindOAuthAuthorization(ctx, "cid-"+env, "bob@example.com")
	wantErr(t, "another person's authorization", err, store.ErrNotFound)

	// Tokens: a code used once, a refresh token rotated once, a family revoked.
	tok := func(kind store.OAuthTokenKind, sig string) store.OAuthToken {
		return store.OAuthToken{Kind: kind, Signature: sig + "-" + env, RequestID: "req-" + env, ClientID: "cid-" + env, AuthorizationID: a.ID,
			Subject: "ada@example.com", Scopes: []string{"read"}, GrantedScopes: []string{"read"}, Form: "redirect_uri=x",
			Session: []byte(`{"subject":"ada@example.com"}`), RequestedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	for _, tk := range []store.OAuthToken{tok(store.OAuthCode, "c1"), tok(store.OAuthAccess, "a1"), tok(store.OAuthRefresh, "r1")} {
		if err := s.ChangeOAuthTokens(ctx, store.CreateOAuthToken(tk)); err != nil {
			t.Fatalf("creating an OAuth %s: %v", tk.Kind, err)
		}
	}
	rec, err := s.GetOAuthToken(ctx, store.OAuthAccess, "a1-"+env)
	if err != nil || !rec.Active || rec.Env != s.Environment() || rec.AuthorizationID != a.ID || !rec.ExpiresAt.Equal(t0.Add(time.Hour)) || string(rec.Session) != `{"subject":"ada@example.com"}` {
		t.Fatalf("GetOAuthToken: got %+v (err %v)", rec, err)
	}
	if _, err := s.GetOAuthToken(ctx, store.OAuthRefresh, "a1-"+env); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an access token's signature read as a refresh token: %v, want ErrNotFound", err)
	}
	if err := s.ChangeOAuthTokens(ctx, store.UseOAuthToken(store.OAuthCode, "c1-"+env)); err != nil {
		t.Fatalf("using a code: %v", err)
	}
	wantErr(t, "using a code twice", s.ChangeOAuthTokens(ctx, store.UseOAuthToken(store.OAuthCode, "c1-"+env)), store.ErrNotFound)
	if rec, _ := s.GetOAuthToken(ctx, store.OAuthCode, "c1-"+env); rec.Active {
		t.Fatal("a used code still reads active")
	}
	if err := s.ChangeOAuthTokens(ctx, store.RevokeOAuthTokens(store.OAuthRefresh, "req-"+env)); err != nil {
		t.Fatalf("revoking a family: %v", err)
	}
	if rec, _ := s.GetOAuthToken(ctx, store.OAuthRefresh, "r1-"+env); rec.Active {
		t.Fatal("a revoked family's refresh token still reads active")
	}
	if rec, _ := s.GetOAuthToken(ctx, store.OAuthAccess, "a1-"+env); !rec.Active {
		t.Fatal("revoking the refresh tokens revoked the access token too")
	}

	// A token endpoint's changes are made together or not at all: a
	// rotation whose code was used already issues nothing and uses up
	// nothing.
	if err := s.ChangeOAuthTokens(ctx, store.CreateOAuthToken(tok(store.OAuthRefresh, "r2"))); err != nil {
		t.Fatal(err)
	}
	err = s.ChangeOAuthTokens(ctx, store.UseOAuthToken(store.OAuthRefresh, "r2-"+env),
		store.CreateOAuthToken(tok(store.OAuthAccess, "a3")), store.UseOAuthToken(store.OAuthCode, "c1-"+env))
	wantErr(t, "changes of which the last fails", err, store.ErrNotFound)
	if rec, err := s.GetOAuthToken(ctx, store.OAuthRefresh, "r2-"+env); err != nil || !rec.Active {
		t.Fatalf("the refresh token of a failed rotation: %+v (err %v), want it still active", rec, err)
	}
	if _, err := s.GetOAuthToken(ctx, store.OAuthAccess, "a3-"+env); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the access token of a failed rotation: %v, want ErrNotFound (never issued)", err)
	}
	if err := s.ChangeOAuthTokens(ctx, store.UseOAuthToken(store.OAuthRefresh, "r2-"+env),
		store.CreateOAuthToken(tok(store.OAuthAccess, "a3")), store.DeleteOAuthToken(store.OAuthAccess, "a3-"+env)); err != nil {
		t.Fatalf("changes that all succeed: %v", err)
	}
	if rec, _ := s.GetOAuthToken(ctx, store.OAuthRefresh, "r2-"+env); rec.Active {
		t.Fatal("a rotated refresh token still reads active")
	}
	if _, err := s.GetOAuthToken(ctx, store.OAuthAccess, "a3-"+env); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a token created then deleted in one change: %v, want ErrNotFound", err)
	}

	// Revoking the authorization deactivates its tokens at once.
	if err := s.RevokeOAuthAuthorization(ctx, a.ID, t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeOAuthAuthorization: %v", err)
	}
	if rec, err := s.GetOAuthToken(ctx, store.OAuthAccess, "a1-"+env); err != nil || rec.Active {
		t.Fatalf("the access token of a revoked authorization: %+v (err %v), want it inactive", rec, err)
	}
	if r, err := s.GetOAuthAuthorization(ctx, a.ID); err != nil || r.RevokedAt == nil || r.Covers([]string{"read"}) {
		t.Fatalf("a revoked authorization: got %+v (err %v)", r, err)
	}
	list, err := s.ListOAuthAuthorizations(ctx)
	if err != nil || len(list) != 1 || list[0].ClientName != "dashboard" {
		t.Fatalf("ListOAuthAuthorizations: got %+v (err %v)", list, err)
	}
	// After a revocation, a new grant is a new authorization.
	if c, err := s.GrantOAuthAuthorization(ctx, "cid-"+env, "ada@example.com", []string{"read"}, t0.Add(2*time.Minute)); err != nil || c.ID == a.ID {
		t.Fatalf("a grant after revocation: got %+v (err %v), want a new authorization", c, err)
	}

	// Deleting the app deletes its authorizations and tokens.
	if err := s.ChangeOAuthTokens(ctx, store.CreateOAuthToken(tok(store.OAuthAccess, "a2"))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOAuthClient(ctx, "dashboard"); err != nil {
		t.Fatalf("DeleteOAuthClient: %v", err)
	}
	if _, err := s.GetOAuthToken(ctx, store.OAuthAccess, "a2-"+env); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a token of a deleted OAuth app: %v, want ErrNotFound", err)
	}
	if list, _ := s.ListOAuthAuthorizations(ctx); len(list) != 0 {
		t.Fatalf("authorizations of a deleted OAuth app: %+v", list)
	}
	// Then the scope, and then the group, can go.
	if err := s.DeleteOAuthScope(ctx, "read"); err != nil {
		t.Fatalf("DeleteOAuthScope: %v", err)
	}
	if err := s.DeleteOAuthGroup(ctx, "readers"); err != nil {
		t.Fatalf("DeleteOAuthGroup: %v", err)
	}
	wantErr(t, "deleting it again", s.DeleteOAuthGroup(ctx, "readers"), store.ErrNotFound)
}

// wantField fails unless err is an EINVALID error naming field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EINVALID {
		t.Fatalf("%s: got %v, want an invalid-input error naming %s", what, err, field)
	}
	for _, f := range le.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("%s: got fields %+v, want one named %s", what, le.Fields, field)
}
