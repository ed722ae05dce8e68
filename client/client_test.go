package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/webhook"
)

// asError returns err as a *client.Error, failing the test when it is not one.
func asError(tb testing.TB, err error) *client.Error {
	tb.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v (%T), want a *client.Error", err, err)
	}
	return e
}

// TestAppsInstallationsAndKeys: an admin declares an app, is told which
// field of a bad document is wrong, installs the app for an org, issues an
// install link and a runtime key, and revokes them.
func TestAppsInstallationsAndKeys(t *testing.T) {
	eachDatabase(t, func(t *testing.T, databaseURL string) {
		s := startLatchkey(t, databaseURL)
		ctx := context.Background()
		provider := providertest.New(t, providertest.Options{})
		doc := strings.ReplaceAll(crmApp, "{{provider}}", provider.BaseURL())

		res, err := s.admin.PutAppDocument(ctx, "crm", []byte(doc), "application/yaml", nil)
		if err != nil || !res.Created || res.App.Name != "crm" || res.App.Revision != 1 {
			t.Fatalf("PutAppDocument: got %+v, %v; want crm created at revision 1", res, err)
		}
		app, err := s.admin.GetApp(ctx, "crm")
		if err != nil || len(app.OAuthConfigs) != 1 || len(app.APIs) != 1 {
			t.Fatalf("GetApp: got %+v, %v; want the document with its config and API", app, err)
		}
		app.Label = "CRM, renamed"
		if res, err = s.admin.PutApp(ctx, app, nil); err != nil || res.Created || res.App.Label != "CRM, renamed" || res.App.Revision != 2 {
			t.Fatalf("PutApp: got %+v, %v; want the app updated to revision 2", res, err)
		}
		apps, err := s.admin.ListApps(ctx)
		if err != nil || len(apps) != 1 || apps[0].Name != "crm" {
			t.Fatalf("ListApps: got %+v, %v; want crm", apps, err)
		}

		// A bad document: a 422 naming the field; nothing changes.
		bad := *app
		bad.OAuthConfigs = append([]latchkey.OAuthConfig(nil), app.OAuthConfigs...)
		bad.OAuthConfigs[0].TokenURL = "not a url"
		_, err = s.admin.PutApp(ctx, &bad, nil)
		e := asError(t, err)
		if e.Status != http.StatusUnprocessableEntity || e.Code != client.CodeInvalid || len(e.Fields) == 0 ||
			!strings.HasPrefix(e.Fields[0].Field, "oauth_configs[0].token_url") {
			t.Fatalf("got %+v, want a 422 invalid naming oauth_configs[0].token_url", e)
		}
		if !strings.HasPrefix(e.Error(), "latchkey: invalid (422): ") {
			t.Errorf("got message %q, want it to start with the code and status", e.Error())
		}
		if got, _ := s.admin.GetApp(ctx, "crm"); got.Revision != 2 {
			t.Errorf("after a refused save: got revision %d, want 2", got.Revision)
		}

		// Install it for acme: the secret comes back redacted; PATCH
		// changes one value and keeps the other.
		inst, err := s.admin.PutInstallation(ctx, "crm", "acme", map[string]string{"client_id": "id-1", "client_secret": "s3cret-value"})
		if err != nil || inst.Values["client_id"] != "id-1" || inst.Values["client_secret"] == "s3cret-value" {
			t.Fatalf("PutInstallation: got %+v, %v; want the id shown and the secret redacted", inst, err)
		}
		if inst, err = s.admin.PatchInstallation(ctx, "crm", "acme", map[string]string{"client_id": "id-2"}); err != nil || inst.Values["client_id"] != "id-2" || inst.Values["client_secret"] == "" {
			t.Fatalf("PatchInstallation: got %+v, %v; want id-2 and the secret kept", inst, err)
		}
		if _, err := s.admin.PutInstallation(ctx, "crm", "beta", map[string]string{"client_id": "x"}); asError(t, err).Code != client.CodeInvalid {
			t.Errorf("an installation without its required secret: got %v, want invalid", err)
		}
		if got, err := s.admin.GetInstallation(ctx, "crm", "acme"); err != nil || got.Org != "acme" {
			t.Fatalf("GetInstallation: got %+v, %v", got, err)
		}
		if insts, err := s.admin.ListInstallations(ctx, "crm"); err != nil || len(insts) != 1 {
			t.Fatalf("ListInstallations: got %+v, %v; want acme's", insts, err)
		}

		// An install link, shown once, listed without its token, revoked.
		il, err := s.admin.CreateInstallLink(ctx, "crm", "beta", 10*time.Minute)
		if err != nil || !strings.Contains(il.URL, "/install/crm?token=") || il.InstallLink.State != "pending" ||
			il.ExpiresAt.Sub(il.InstallLink.CreatedAt) != 10*time.Minute {
			t.Fatalf("CreateInstallLink: got %+v, %v; want a pending link of ten minutes", il, err)
		}
		if _, err := s.admin.CreateInstallLink(ctx, "crm", "beta", time.Second); asError(t, err).Fields[0].Field != "expires_in" {
			t.Errorf("a one-second install link: got %v, want expires_in refused", err)
		}
		if err := s.admin.RevokeInstallLink(ctx, "crm", il.ID); err != nil {
			t.Fatal(err)
		}
		links, err := s.admin.ListInstallLinks(ctx, "crm", "beta")
		if err != nil || len(links) != 1 || links[0].State != "revoked" {
			t.Fatalf("ListInstallLinks: got %+v, %v; want the link revoked", links, err)
		}

		// A runtime key reads crm but manages nothing; revoked, it is refused.
		nk, err := s.admin.CreateAPIKey(ctx, client.ScopeRuntime, "crm", "backend")
		if err != nil || nk.Key == "" || nk.APIKey.Scope != client.ScopeRuntime || nk.APIKey.App != "crm" {
			t.Fatalf("CreateAPIKey: got %+v, %v", nk, err)
		}
		runtime, _ := client.New(s.URL, client.WithAPIKey(nk.Key))
		if _, err := runtime.GetApp(ctx, "crm"); err != nil {
			t.Fatalf("runtime GetApp: %v", err)
		}
		if _, err := runtime.ListApps(ctx); asError(t, err).Status != http.StatusForbidden {
			t.Errorf("runtime ListApps: got %v, want 403", err)
		}
		keys, err := s.admin.ListAPIKeys(ctx)
		if err != nil || len(keys) != 2 {
			t.Fatalf("ListAPIKeys: got %+v, %v; want two keys", keys, err)
		}
		if err := s.admin.RevokeAPIKey(ctx, nk.APIKey.ID); err != nil {
			t.Fatal(err)
		}
		e = asError(t, func() error { _, err := runtime.GetApp(ctx, "crm"); return err }())
		if e.Status != http.StatusUnauthorized || e.Code != client.CodeUnauthorized {
			t.Errorf("a revoked key: got %+v, want 401 unauthorized", e)
		}

		// An app from the provider catalog; the name is then taken.
		gh, err := s.admin.CreateAppFromProvider(ctx, "github", "gh")
		if err != nil || gh.Name != "gh" || len(gh.OAuthConfigs) == 0 {
			t.Fatalf("CreateAppFromProvider: got %+v, %v; want the app gh with the entry's config", gh, err)
		}
		if _, err := s.admin.CreateAppFromProvider(ctx, "github", "gh"); asError(t, err).Code != client.CodeConflict {
			t.Errorf("the same name again: got %v, want conflict", err)
		}

		if err := s.admin.DeleteInstallation(ctx, "crm", "acme"); err != nil {
			t.Fatal(err)
		}
		if err := s.admin.DeleteApp(ctx, "crm"); err != nil {
			t.Fatal(err)
		}
		e = asError(t, func() error { _, err := s.admin.GetApp(ctx, "crm"); return err }())
		if e.Status != http.StatusNotFound || e.Code != client.CodeNotFound || e.Message == "" || e.RequestID == "" {
			t.Errorf("a deleted app: got %+v, want 404 not_found with a message and a request id", e)
		}
	})
}

// TestConnectionsAPIsAndProxy: a backend makes a link for its user, the
// user connects, and the backend reads the token, calls the declared API
// and the provider through the proxy, and disconnects the user.
func TestConnectionsAPIsAndProxy(t *testing.T) {
	eachDatabase(t, func(t *testing.T, databaseURL string) {
		s := startLatchkey(t, databaseURL)
		ctx := context.Background()
		provider := providertest.New(t, providertest.Options{Now: s.clock.Now, AccessTTL: time.Hour})
		s.putCRM(t, provider)
		key := client.ConnectionKey{App: "crm", Org: "acme", User: "u-42", Config: "example"}

		_, err := s.admin.Token(ctx, key)
		if e := asError(t, err); e.Status != http.StatusNotFound {
			t.Fatalf("a token before connecting: got %+v, want 404", e)
		}
		// The org-level routes (no user) exist: the refusal is about the
		// connection, not the route.
		orgKey := client.ConnectionKey{App: "crm", Org: "acme", Config: "example"}
		for what, err := range map[string]error{
			"Token":   func() error { _, err := s.admin.Token(ctx, orgKey); return err }(),
			"CallAPI": func() error { _, err := s.admin.CallAPI(ctx, "crm", "acme", "", "me", nil); return err }(),
			"Proxy":   func() error { _, err := s.admin.Proxy(ctx, orgKey, http.MethodGet, "/me", nil, nil); return err }(),
		} {
			if e := asError(t, err); e.Status == http.StatusNotFound && e.Message == "no such route" {
				t.Errorf("org-level %s: got %+v, want a route that answers", what, e)
			}
		}

		s.connect(t, provider, key)

		tok, err := s.admin.Token(ctx, key)
		if err != nil || tok.AccessToken == "" || tok.Status != client.StatusActive || tok.ExpiresAt == nil || tok.ConnectionKey != key {
			t.Fatalf("Token: got %+v, %v; want an active token that expires", tok, err)
		}
		if v, err := s.admin.Setting(ctx, "crm", "acme", "u-42", "account_id"); err != nil || v.Value != providertest.DefaultUser || v.Source != "user" {
			t.Fatalf("Setting: got %+v, %v; want the user id the verify API stored", v, err)
		}
		conns, err := s.admin.ListConnections(ctx, "crm", "acme")
		if err != nil || len(conns) != 1 || conns[0].ConnectionKey != key || conns[0].Status != client.StatusActive {
			t.Fatalf("ListConnections: got %+v, %v", conns, err)
		}
		if v, err := s.admin.VerifyConnection(ctx, key); err != nil || !v.OK || v.API != "me" || v.Status != http.StatusOK {
			t.Fatalf("VerifyConnection: got %+v, %v", v, err)
		}

		// The declared API: the provider's answer comes back as sent.
		res, err := s.admin.CallAPI(ctx, "crm", "acme", "u-42", "me", nil)
		if err != nil || !res.OK() {
			t.Fatalf("CallAPI: got %+v, %v; want 200", res, err)
		}
		var me struct{ ID string }
		if err := res.Decode(&me); err != nil || me.ID != providertest.DefaultUser {
			t.Fatalf("CallAPI's body: got %+v, %v; want the user", me, err)
		}
		if _, err := s.admin.CallAPI(ctx, "crm", "acme", "u-42", "nope", nil); asError(t, err).Code != client.CodeNotFound {
			t.Errorf("an undeclared API: got %v, want not_found", err)
		}
		if _, err := s.admin.CallAPI(ctx, "crm", "acme", "u-7", "me", nil); asError(t, err).Code != client.CodeNotFound {
			t.Errorf("the API for a user who never connected: got %v, want not_found", err)
		}

		// The proxy: any path under api_base_url; the provider's own 4xx
		// is its answer, not an error.
		resp, err := s.admin.Proxy(ctx, key, http.MethodGet, "/items?per_page=5", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"item-05"`) || strings.Contains(string(body), `"item-06"`) {
			t.Fatalf("Proxy: got HTTP %d %s, want the first five items", resp.StatusCode, body)
		}
		resp, err = s.admin.Proxy(ctx, key, http.MethodGet, "/answer?status=404&body=%7B%22gone%22%3Atrue%7D", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the provider's 404 through the proxy: got HTTP %d, want 404 as the provider sent it", resp.StatusCode)
		}
		up := strings.NewReader(strings.Repeat("x", 1000))
		resp, err = s.admin.Proxy(ctx, key, http.MethodPut, "/upload", up, http.Header{"Content-Type": {"application/octet-stream"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"bytes":1000`) {
			t.Errorf("a proxied upload: got HTTP %d %s, want 1000 bytes received", resp.StatusCode, body)
		}
		_, err = s.admin.Proxy(ctx, client.ConnectionKey{App: "crm", Org: "acme", User: "u-7", Config: "example"}, http.MethodGet, "/me", nil, nil)
		if e := asError(t, err); e.Code != client.CodeNotFound {
			t.Errorf("the proxy for a user who never connected: got %+v, want Latchkey's not_found", e)
		}

		// The provider refuses the refresh token: the read fails with the
		// provider's own error, and the connection needs the user again.
		s.clock.Advance(2 * time.Hour)
		provider.FailNext(1, providertest.Failure{Kind: providertest.KindStatus, Status: http.StatusBadRequest, On: providertest.EndpointRefresh,
			Body: `{"error": "invalid_grant", "error_description": "the refresh token was revoked"}`})
		_, err = s.admin.Token(ctx, key)
		e := asError(t, err)
		if e.Status != http.StatusBadGateway || e.Code != client.CodeProvider || e.Provider == nil || e.Provider.Status != http.StatusBadRequest ||
			e.Provider.Code != "invalid_grant" || e.Provider.Description != "the refresh token was revoked" {
			t.Fatalf("a refused refresh: got %+v (provider %+v), want 502 provider_error with the provider's invalid_grant", e, e.Provider)
		}
		if _, err := s.admin.Token(ctx, key); !errors.Is(err, client.ErrNeedsReauth) || errors.Is(err, client.ErrNotFound) {
			t.Errorf("the next read: got %v, want needs_reauth (errors.Is)", err)
		}

		if _, err := s.admin.DeleteConnection(ctx, key, false); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		if _, err := s.admin.Token(ctx, key); asError(t, err).Code != client.CodeNotFound {
			t.Errorf("a token after disconnecting: got %v, want not_found", err)
		}
	})
}

// TestWebhooks: an app's webhook receives a user's connection.created,
// signed; the receiver verifies it with the client and refuses a forged
// or replayed one.
func TestWebhooks(t *testing.T) {
	s := startLatchkey(t, "")
	ctx := context.Background()
	provider := providertest.New(t, providertest.Options{})
	s.putCRM(t, provider)

	var mu sync.Mutex
	var got []*client.Event
	var errs []error
	var secret string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ev, err := client.VerifyWebhook(r, secret)
		if err != nil {
			errs = append(errs, err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		got = append(got, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	hook, err := s.admin.CreateWebhook(ctx, "crm", receiver.URL+"/hooks", []string{client.EventConnectionCreated})
	if err != nil || !strings.HasPrefix(hook.Secret, "whsec_") || hook.Webhook.URL != receiver.URL+"/hooks" {
		t.Fatalf("CreateWebhook: got %+v, %v", hook, err)
	}
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()
	if _, err := s.admin.CreateWebhook(ctx, "crm", "http://example.com/hooks", nil); asError(t, err).Fields[0].Field != "url" {
		t.Errorf("a plain-http webhook to another host: got %v, want url refused", err)
	}
	hooks, err := s.admin.ListWebhooks(ctx, "crm")
	if err != nil || len(hooks) != 1 || hooks[0].ID != hook.Webhook.ID {
		t.Fatalf("ListWebhooks: got %+v, %v", hooks, err)
	}

	s.connect(t, provider, client.ConnectionKey{App: "crm", Org: "acme", User: "u-42", Config: "example"})
	deadline := time.Now().Add(10 * time.Second)
	var ds []client.Delivery
	for {
		ds, err = s.admin.ListDeliveries(ctx, "crm", hook.Webhook.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].State == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got deliveries %+v, want one delivered", ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ds[0].EventType != client.EventConnectionCreated || len(ds[0].Attempts) != 1 || ds[0].Attempts[0].StatusCode != http.StatusNoContent {
		t.Errorf("got delivery %+v, want connection.created delivered at the first attempt", ds[0])
	}
	mu.Lock()
	if len(errs) > 0 || len(got) != 1 || got[0].Type != client.EventConnectionCreated || got[0].User != "u-42" || got[0].Config != "example" {
		t.Errorf("receiver: got %+v (errors %v), want u-42's connection.created", got, errs)
	}
	mu.Unlock()

	// A forged body, a wrong secret and an old signature are refused.
	body := []byte(`{"type":"connection.created"}`)
	now := time.Now()
	header := webhook.Sign(hook.Secret, now, body) // as the dispatcher signs
	if err := client.VerifySignature(hook.Secret, header, body, now, 0); err != nil {
		t.Fatalf("a genuine signature: %v", err)
	}
	if err := client.VerifySignature(hook.Secret, header, []byte(`{"type":"connection.deleted"}`), now, 0); !errors.Is(err, client.ErrBadSignature) {
		t.Errorf("a forged body: got %v, want ErrBadSignature", err)
	}
	if err := client.VerifySignature("whsec_other", header, body, now, 0); !errors.Is(err, client.ErrBadSignature) {
		t.Errorf("another secret: got %v, want ErrBadSignature", err)
	}
	if err := client.VerifySignature(hook.Secret, header, body, now.Add(time.Hour), 0); !errors.Is(err, client.ErrTooOld) {
		t.Errorf("a replay an hour later: got %v, want ErrTooOld", err)
	}
	if err := client.VerifySignature(hook.Secret, "", body, now, 0); !errors.Is(err, client.ErrNoSignature) {
		t.Errorf("no header: got %v, want ErrNoSignature", err)
	}

	if err := s.admin.DeleteWebhook(ctx, "crm", hook.Webhook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.ListDeliveries(ctx, "crm", hook.Webhook.ID, 0); asError(t, err).Code != client.CodeNotFound {
		t.Errorf("deliveries of a deleted webhook: got %v, want not_found", err)
	}
}
