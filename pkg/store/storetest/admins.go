package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// RunAdminTests runs the conformance suite of admin accounts, sessions and
// server secrets. open returns a new, empty store for each subtest.
func RunAdminTests(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Admins", func(t *testing.T) { testAdmins(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("DeleteAdmin", func(t *testing.T) { testDeleteAdmin(t, open(t)) })
	t.Run("DeleteAdminConcurrently", func(t *testing.T) { testDeleteAdminConcurrently(t, open(t)) })
	t.Run("ServerSecret", func(t *testing.T) { testServerSecret(t, open(t)) })
	t.Run("AdminChangesRevokeOAuth", func(t *testing.T) { testAdminChangesRevokeOAuth(t, open(t)) })
}

// testAdminChangesRevokeOAuth: a new password, or the account's delete,
// revokes the authorizations the admin gave Latchkey's own OAuth apps, in
// every environment, with their tokens; another admin's stay live.
func testAdminChangesRevokeOAuth(t *testing.T, root store.Store) {
	for _, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
		if err := root.CreateAdmin(ctx, store.Admin{Email: email, PasswordHash: []byte("h"), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	type grant struct {
		env   store.Store
		auth  latchkey.OAuthAuthorization
		token string
	}
	grants := map[string][]grant{}
	for _, env := range []latchkey.Environment{latchkey.EnvDev, latchkey.EnvProd} {
		s := root.In(env)
		if _, err := s.PutOAuthServer(ctx, latchkey.OAuthServer{Enabled: true, AccessTokenTTL: latchkey.Duration(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutOAuthGroup(ctx, latchkey.OAuthGroup{Name: "readers", Permissions: []latchkey.Permission{latchkey.PermAppsRead}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutOAuthScope(ctx, latchkey.OAuthScope{Name: "read", Description: "Read", Groups: []string{"readers"}}); err != nil {
			t.Fatal(err)
		}
		cid := "tool-" + string(env)
		if _, err := s.CreateOAuthClient(ctx, latchkey.OAuthClient{Name: "tool", ClientID: cid, Label: "Tool", RedirectURI: "https://tool.example/cb",
			Scopes: []string{"read"}, SecretHash: []byte("hash")}); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
			a, err := s.GrantOAuthAuthorization(ctx, cid, email, []string{"read"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			sig := "sig-" + string(env) + "-" + email
			if err := s.ChangeOAuthTokens(ctx, store.CreateOAuthToken(store.OAuthToken{Kind: store.OAuthAccess, Signature: sig, RequestID: "req-" + sig, ClientID: cid,
				AuthorizationID: a.ID, Subject: email, Scopes: []string{"read"}, GrantedScopes: []string{"read"}, Session: []byte(`{}`),
				RequestedAt: t0, ExpiresAt: t0.Add(time.Hour)})); err != nil {
				t.Fatal(err)
			}
			grants[email] = append(grants[email], grant{s, a, sig})
		}
	}
	live := func(email string) (auths, tokens int) {
		t.Helper()
		for _, g := range grants[email] {
			if a, err := g.env.GetOAuthAuthorization(ctx, g.auth.ID); err == nil && a.RevokedAt == nil {
				auths++
			}
			if tok, err := g.env.GetOAuthToken(ctx, store.OAuthAccess, g.token); err == nil && tok.Active {
				tokens++
			}
		}
		return auths, tokens
	}
	if err := root.SetAdminPassword(ctx, "ada@example.com", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := root.DeleteAdmin(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	for email, want := range map[string]int{"ada@example.com": 0, "bob@example.com": 0, "cy@example.com": 2} {
		if a, tk := live(email); a != want || tk != want {
			t.Errorf("%s after the changes: %d live authorizations and %d active tokens, want %d of each", email, a, tk, want)
		}
	}
}

func testAdmins(t *testing.T, s store.Store) {
	if err := s.CreateAdmin(ctx, store.Admin{Email: "Ada@Example.com ", PasswordHash: []byte("h1"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	err := s.CreateAdmin(ctx, store.Admin{Email: "ada@example.com", PasswordHash: []byte("h2")})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second admin with the same email: got %v, want ErrConflict", err)
	}
	a, err := s.GetAdmin(ctx, "ADA@example.com")
	if err != nil || a.Email != "ada@example.com" || string(a.PasswordHash) != "h1" || !a.CreatedAt.Equal(t0) {
		t.Fatalf("got %+v (err %v), want ada with hash h1 created at t0", a, err)
	}
	if _, err := s.GetAdmin(ctx, "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown admin: got %v, want ErrNotFound", err)
	}
	list, err := s.ListAdmins(ctx)
	if err != nil || len(list) != 1 || list[0].Email != "ada@example.com" || list[0].PasswordHash != nil {
		t.Fatalf("got %+v (err %v), want ada without her hash", list, err)
	}
	if err := s.CreateSession(ctx, "sess-1", store.Session{Email: "ada@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdminPassword(ctx, "ada@example.com", []byte("h3")); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.GetAdmin(ctx, "ada@example.com"); string(a.PasswordHash) != "h3" {
		t.Fatalf("got hash %q, want h3", a.PasswordHash)
	}
	if _, err := s.GetSession(ctx, "sess-1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after a password change: got %v, want ErrNotFound", err)
	}
	if err := s.SetAdminPassword(ctx, "bob@example.com", []byte("h")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("password of an unknown admin: got %v, want ErrNotFound", err)
	}
}

// testDeleteAdmin deletes one of two admins: its sessions end with it,
// the other's stay, and the last one left cannot be deleted.
func testDeleteAdmin(t *testing.T, s store.Store) {
	for _, email := range []string{"ada@example.com", "bob@example.com"} {
		if err := s.CreateAdmin(ctx, store.Admin{Email: email, PasswordHash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, "sess-"+email[:3], store.Session{Email: email, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteAdmin(ctx, "carol@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting an unknown admin: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteAdmin(ctx, " BOB@example.com"); err != nil {
		t.Fatalf("deleting bob: got %v, want no error", err)
	}
	if _, err := s.GetAdmin(ctx, "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob after his delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, "sess-bob", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob's session after his delete: got %v, want ErrNotFound", err)
	}
	if got, err := s.GetSession(ctx, "sess-ada", t0); err != nil || got.Email != "ada@example.com" {
		t.Fatalf("ada's session after bob's delete: got %+v (err %v), want it kept", got, err)
	}
	err := s.DeleteAdmin(ctx, "ada@example.com")
	var le *latchkey.Error
	if !errors.Is(err, store.ErrConflict) || !errors.As(err, &le) || len(le.Fields) != 1 || le.Fields[0].Field != "email" {
		t.Fatalf("deleting the last admin: got %v, want ErrConflict naming the field email", err)
	}
	if list, err := s.ListAdmins(ctx); err != nil || len(list) != 1 || list[0].Email != "ada@example.com" {
		t.Fatalf("admins after the refused delete: got %+v (err %v), want ada", list, err)
	}
	if _, err := s.GetSession(ctx, "sess-ada", t0); err != nil {
		t.Fatalf("ada's session after the refused delete: got %v, want it kept", err)
	}
}

// testDeleteAdminConcurrently deletes both of two admins at once, many
// times: one delete wins and the other is refused, never both.
func testDeleteAdminConcurrently(t *testing.T, s store.Store) {
	for round := range 10 {
		a, b := fmt.Sprintf("a%d@example.com", round), fmt.Sprintf("b%d@example.com", round)
		for _, email := range []string{a, b} {
			if err := s.CreateAdmin(ctx, store.Admin{Email: email, PasswordHash: []byte("h")}); err != nil {
				t.Fatal(err)
			}
		}
		if round > 0 { // the one left of the round before
			if err := s.DeleteAdmin(ctx, leftOf(t, s, a, b)); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, email := range []string{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = s.DeleteAdmin(ctx, email) }()
		}
		wg.Wait()
		refused := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, store.ErrConflict):
				refused++
			case err != nil:
				t.Fatalf("round %d: got %v, want success or ErrConflict", round, err)
			}
		}
		list, err := s.ListAdmins(ctx)
		if err != nil || len(list) != 1 || refused != 1 {
			t.Fatalf("round %d: got %d admins left (err %v) and %d refusals, want 1 and 1", round, len(list), err, refused)
		}
	}
}

// leftOf returns the one admin other than the new a and b.
func leftOf(t *testing.T, s store.Store, a, b string) string {
	t.Helper()
	list, err := s.ListAdmins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range list {
		if ad.Email != a && ad.Email != b {
			return ad.Email
		}
	}
	t.Fatalf("got admins %+v, want one besides %s and %s", list, a, b)
	return ""
}

func testSessions(t *testing.T, s store.Store) {
	if err := s.CreateAdmin(ctx, store.Admin{Email: "ada@example.com", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, "sess-1", store.Session{Email: "ada@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "sess-1", t0.Add(59*time.Minute))
	if err != nil || got.Email != "ada@example.com" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("got %+v (err %v), want ada's session until t0+1h", got, err)
	}
	if _, err := s.GetSession(ctx, "sess-1", t0.Add(time.Hour)); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("at expiry: got %v, want ErrExpired", err)
	}
	if _, err := s.GetSession(ctx, "sess-2", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown session: got %v, want ErrNotFound", err)
	}
	if err := s.CreateSession(ctx, "sess-3", store.Session{Email: "bob@example.com", ExpiresAt: t0.Add(time.Hour)}); err == nil {
		t.Fatal("a session of an unknown admin was stored")
	}
	if err := s.DeleteSession(ctx, "sess-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "sess-1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, "sess-1"); err != nil {
		t.Fatalf("deleting an ended session: got %v, want no error", err)
	}
}

func testServerSecret(t *testing.T, s store.Store) {
	a, err := s.ServerSecret(ctx, "install-links")
	if err != nil || len(a) != 32 {
		t.Fatalf("got %d bytes (err %v), want 32", len(a), err)
	}
	b, err := s.ServerSecret(ctx, "install-links")
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second read: got a different secret (err %v), want the same", err)
	}
	c, err := s.ServerSecret(ctx, "other")
	if err != nil || bytes.Equal(a, c) {
		t.Fatalf("another name: got the same secret (err %v), want a different one", err)
	}
}
