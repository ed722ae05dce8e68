package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/trace"
)

// traceList is the answer of a connection's trace listing.
type traceList struct {
	Traces []latchkey.Trace `json:"traces"`
}

func tracesOf(h *harness, conn string) []latchkey.Trace {
	h.tb.Helper()
	var l traceList
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", conn+"/traces", testAdminKey, "", ""), &l); err != nil {
		h.tb.Fatal(err)
	}
	return l.Traces
}

func traceByID(h *harness, app, id string) (latchkey.Trace, string) {
	h.tb.Helper()
	raw := h.expect(http.StatusOK, "GET", "/api/v1/apps/"+app+"/traces/"+id, testAdminKey, "", "")
	var t latchkey.Trace
	if err := json.Unmarshal(raw, &t); err != nil {
		h.tb.Fatal(err)
	}
	return t, string(raw)
}

// TestTracesShowEveryFlowWithSecretsMasked: a builder reads, for a
// connection, the trace of each thing Latchkey did with it — the
// authorization (the user's return, the code's exchange, the check), a
// proxied call, a declared API call, a refused refresh — each step with
// the request and the provider's answer, and no secret anywhere: not the
// client secret, not the code, not a token.
func TestTracesShowEveryFlowWithSecretsMasked(t *testing.T) {
	h := startServer(t, serverOptions{})
	env := newCallsEnv(t, h, providertest.Options{})
	conn := "/api/v1/apps/calls/orgs/acme/users/alice/connections/p"
	token := env.accessToken("alice")
	secrets := map[string]string{"the client secret": env.provider.ClientSecret(), "the access token": token}

	noSecret := func(what, raw string) {
		t.Helper()
		for name, s := range secrets {
			if strings.Contains(raw, s) {
				t.Fatalf("%s holds %s: %s", what, name, raw)
			}
		}
	}

	// The authorization: the return from the provider, the exchange, the check.
	list := tracesOf(h, conn)
	if len(list) != 1 || list[0].Kind != latchkey.TraceAuthorization || !list[0].OK || list[0].StepCount != 3 || list[0].Steps != nil {
		t.Fatalf("after connecting: got %+v, want one authorization of 3 steps, listed without them", list)
	}
	auth, raw := traceByID(h, "calls", list[0].ID)
	noSecret("the authorization's trace", raw)
	back, exchange, check := auth.Steps[0], auth.Steps[1], auth.Steps[2]
	if !strings.Contains(back.URL, "/oauth/callback?") || !strings.Contains(back.URL, "code="+trace.Masked) {
		t.Errorf("the return from the provider: got %q, want the callback with its code masked", back.URL)
	}
	if exchange.Name != "token exchange" || exchange.Method != "POST" || exchange.Status != 200 ||
		!strings.HasSuffix(strings.SplitN(exchange.URL, "?", 2)[0], "/oauth/token") {
		t.Errorf("the exchange: got %+v", exchange)
	}
	if !strings.Contains(exchange.RequestBody, "grant_type=authorization_code") || !strings.Contains(exchange.RequestBody, "client_secret=") {
		t.Errorf("the exchange's request body: got %q, want the grant with its secrets masked", exchange.RequestBody)
	}
	if !strings.Contains(exchange.ResponseBody, `"access_token": "`+trace.Masked+`"`) || !strings.Contains(exchange.ResponseBody, "token_type") {
		t.Errorf("the exchange's answer: got %q, want the token response with its tokens masked", exchange.ResponseBody)
	}
	if check.Name != "verification" || check.Status != 200 || !strings.HasPrefix(check.Request["Authorization"], "Bearer "+trace.Masked) {
		t.Errorf("the check: got %+v", check)
	}

	// A proxied call that succeeds is its method, URL, status and time; a
	// refusal keeps the request's headers (credentials masked) and the
	// provider's answer as it said it.
	resp, body := env.call("GET", env.base+"/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = env.call("GET", env.base+"/no-such-thing", "", nil)
	wantStatus(t, resp, body, http.StatusNotFound)
	list = tracesOf(h, conn)
	if len(list) != 3 || list[0].Kind != latchkey.TraceProxy || list[0].OK || list[0].Status != 404 || list[0].Name != "GET /no-such-thing" ||
		list[1].Name != "GET /me" || !list[1].OK {
		t.Fatalf("after two proxied calls: got %+v", list)
	}
	ok, _ := traceByID(h, "calls", list[1].ID)
	noSecret("the proxied call's trace", raw)
	if len(ok.Steps) != 1 || ok.Steps[0].Status != 200 || !strings.HasSuffix(ok.Steps[0].URL, "/api/me") || ok.Steps[0].ResponseBody != "" {
		t.Errorf("the proxied call: got %+v, want one step with its URL and status, no body kept", ok.Steps)
	}
	refused, raw := traceByID(h, "calls", list[0].ID)
	noSecret("the refused call's trace", raw)
	if len(refused.Steps) != 1 || refused.Steps[0].ResponseBody == "" || !strings.Contains(refused.Error, "404") ||
		refused.Steps[0].Request["Authorization"] != "Bearer "+trace.Masked {
		t.Errorf("the refused call: got %+v, want the provider's answer kept", refused)
	}

	// A declared API call is traced under its config.
	resp, body = env.call("POST", "/api/v1/apps/calls/orgs/acme/users/alice/apis/me", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if list = tracesOf(h, conn); list[0].Kind != latchkey.TraceAPI || list[0].Name != "me" || !list[0].OK {
		t.Fatalf("after a declared call: got %+v", list[0])
	}

	// The provider forgets the grant: the refused refresh shows its error.
	env.provider.RevokeAll()
	h.call("POST", conn+"/refresh", "", nil)
	list = tracesOf(h, conn)
	if list[0].Kind != latchkey.TraceRefresh || list[0].OK || !strings.Contains(list[0].Error, "invalid_grant") {
		t.Fatalf("after a refused refresh: got %+v, want a failed refresh naming invalid_grant", list[0])
	}
	failed, raw := traceByID(h, "calls", list[0].ID)
	noSecret("the refresh's trace", raw)
	if len(failed.Steps) != 1 || !strings.Contains(failed.Steps[0].ResponseBody, "invalid_grant") || failed.Steps[0].Status < 400 {
		t.Errorf("the refused refresh's step: got %+v, want the provider's answer", failed.Steps)
	}

	// A call for a user nobody connected, or of an app there is not,
	// leaves no trace: names cannot fill the store.
	resp, body = env.call("GET", "/api/v1/apps/calls/orgs/acme/users/nobody/connections/p/proxy/me", "", nil)
	wantStatus(t, resp, body, http.StatusNotFound)
	env.call("GET", "/api/v1/apps/nosuch/orgs/acme/users/alice/connections/p/proxy/me", "", nil)
	if list := tracesOf(h, "/api/v1/apps/calls/orgs/acme/users/nobody/connections/p"); len(list) != 0 {
		t.Fatalf("a call for a user nobody connected: got %d traces, want none", len(list))
	}
	if list := tracesOf(h, "/api/v1/apps/nosuch/orgs/acme/users/alice/connections/p"); len(list) != 0 {
		t.Fatalf("a call of an app there is not: got %d traces, want none", len(list))
	}

	// A user who refuses at the provider never connects: the failed
	// authorization is found among the app's traces, with the provider's words.
	link := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/calls/orgs/acme/users/carol/connections/p/link", testAdminKey, "application/json", `{}`))
	landing, _ := h.do("POST", strings.TrimPrefix(link["url"].(string), h.main.URL), "", "application/x-www-form-urlencoded", "")
	env.provider.DenyNext()
	cb := env.provider.Authorize(t, landing.Header.Get("Location"))
	if resp, b := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode < 400 {
		t.Fatalf("a refused authorization: got HTTP %d %s", resp.StatusCode, b)
	}
	var app traceList
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/calls/traces?failed=true&kind=authorization", testAdminKey, "", ""), &app); err != nil {
		t.Fatal(err)
	}
	if len(app.Traces) != 1 || app.Traces[0].User != "carol" || !strings.Contains(app.Traces[0].Error, "access_denied") {
		t.Fatalf("the app's failed authorizations: got %+v, want carol's, saying access_denied", app.Traces)
	}
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/calls/traces?limit=2", testAdminKey, "", ""), &app); err != nil || len(app.Traces) != 2 {
		t.Fatalf("the app's two newest traces: got %d (%v)", len(app.Traces), err)
	}
	older := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/apps/calls/traces?before="+app.Traces[1].ID, testAdminKey, "", ""))
	if n := len(older["traces"].([]any)); n == 0 {
		t.Fatal("the page after the two newest traces is empty")
	}
	for _, q := range []string{"kind=login", "failed=yes", "limit=500", "before=trc_nope"} {
		bad := string(h.expect(http.StatusUnprocessableEntity, "GET", "/api/v1/apps/calls/traces?"+q, testAdminKey, "", ""))
		if field := strings.SplitN(q, "=", 2)[0]; !strings.Contains(bad, `"field":"`+field+`"`) {
			t.Errorf("traces?%s: got %s, want an error naming %s", q, bad, field)
		}
	}

	// Bad input and other tenants: a clear error, nothing else.
	bad := decode(t, h.expect(http.StatusUnprocessableEntity, "GET", conn+"/traces?limit=0", testAdminKey, "", ""))
	if !strings.Contains(string(mustJSON(t, bad)), `"field":"limit"`) {
		t.Errorf("limit=0: got %v, want an error naming limit", bad)
	}
	h.expect(http.StatusNotFound, "GET", "/api/v1/apps/calls/traces/trc_nope", testAdminKey, "", "")
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/other", testAdminKey, "application/yaml", "name: other\n")
	h.expect(http.StatusNotFound, "GET", "/api/v1/apps/other/traces/"+auth.ID, testAdminKey, "", "")

	// Disconnecting deletes the connection's traces.
	h.expect(http.StatusNoContent, "DELETE", conn+"?force=true", testAdminKey, "", "")
	if list = tracesOf(h, conn); len(list) != 0 {
		t.Fatalf("after disconnecting: got %d traces, want none", len(list))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
