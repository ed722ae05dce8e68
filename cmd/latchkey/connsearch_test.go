package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// TestConnectionsAcrossApps pages through every connection of an
// environment as the builder UI's connections screen does, filters by
// status and searches by user, and refuses a bad page size or cursor
// naming the parameter.
func TestConnectionsAcrossApps(t *testing.T) {
	h := startLatchkey(t)
	st := h.main.Store().In(latchkey.EnvDev)
	ctx := latchkey.WithEnvironment(t.Context(), latchkey.EnvDev)
	for _, app := range []string{"crm", "billing"} {
		if _, err := st.PutApp(ctx, storetest.App(app)); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 60; i++ {
			c := latchkey.Connection{ConnectionKey: latchkey.ConnectionKey{App: app, Org: "acme", User: fmt.Sprintf("user-%02d", i), Config: storetest.Configs[0]},
				Status: latchkey.StatusActive, Values: map[string]string{"access_token": "at-secret-" + app}}
			if i%10 == 0 {
				c.Status = latchkey.StatusNeedsReauth
			}
			if _, err := st.PutConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]bool{}
	after := ""
	for pages := 0; pages < 5; pages++ {
		q := url.Values{"limit": {"50"}}
		if after != "" {
			q.Set("after", after)
		}
		page := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/connections?"+q.Encode(), testAdminKey, "", ""))
		if page["total"] != float64(120) {
			t.Fatalf("total: %v, want 120", page["total"])
		}
		for _, c := range page["connections"].([]any) {
			m := c.(map[string]any)
			seen[m["app"].(string)+"/"+m["user"].(string)] = true
		}
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != 120 {
		t.Fatalf("the pages held %d connections, want 120", len(seen))
	}
	h.assertNoLeak("at-secret-crm", "at-secret-billing")

	if page := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/connections?status=needs_reauth&app=crm", testAdminKey, "", "")); page["total"] != float64(6) {
		t.Fatalf("crm's connections needing re-authorization: %v, want 6", page["total"])
	}
	if page := decode(t, h.expect(http.StatusOK, "GET", "/api/v1/connections?q=USER-0", testAdminKey, "", "")); page["total"] != float64(20) {
		t.Fatalf("searching USER-0: %v, want 20", page["total"])
	}
	for _, bad := range []struct{ query, field string }{{"limit=0", "limit"}, {"limit=501", "limit"}, {"after=%21%21", "after"}, {"status=sleeping", "status"}} {
		resp, body := h.do("GET", "/api/v1/connections?"+bad.query, testAdminKey, "", "")
		if resp.StatusCode != http.StatusUnprocessableEntity || !containsField(body, bad.field) {
			t.Errorf("?%s: HTTP %d %s, want 422 naming %s", bad.query, resp.StatusCode, body, bad.field)
		}
	}
	key := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope":"runtime","app":"crm"}`))["key"].(string)
	h.expect(http.StatusForbidden, "GET", "/api/v1/connections", key, "", "")
}

// containsField reports whether an error body names field.
func containsField(body []byte, field string) bool {
	var e struct {
		Error struct {
			Details []struct {
				Field string `json:"field"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return false
	}
	for _, d := range e.Error.Details {
		if d.Field == field {
			return true
		}
	}
	return false
}

// TestConnectionHistory: a connection's history names the link that
// started it, its creation, its refreshes and the reads of its token,
// newest first, and nothing of another connection.
func TestConnectionHistory(t *testing.T) {
	h := startLatchkey(t)
	env := newCallsEnv(t, h, providertest.Options{AccessTTL: time.Hour})
	env.connect("bob")
	base := "/api/v1/apps/calls/orgs/acme/users/alice/connections/p"
	h.expect(http.StatusOK, "GET", base, testAdminKey, "", "") // a read of the token
	h.clock.Advance(2 * time.Hour)
	h.expect(http.StatusOK, "GET", base, testAdminKey, "", "") // expired: refreshed, then read
	var actions []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		events := decode(t, h.expect(http.StatusOK, "GET", base+"/events", testAdminKey, "", ""))["events"].([]any)
		actions = actions[:0]
		for _, e := range events {
			m := e.(map[string]any)
			if m["user"] != "alice" {
				t.Fatalf("alice's history holds %v", m)
			}
			actions = append(actions, m["action"].(string))
		}
		if len(actions) >= 5 || time.Now().After(deadline) {
			break
		}
	}
	want := []string{"token.read", "connection.refreshed", "token.read", "connection.created", "link.create"}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Fatalf("alice's history: %v, want %v", actions, want)
	}
	resp, body := h.do("GET", base+"/events?limit=0", testAdminKey, "", "")
	if resp.StatusCode != http.StatusUnprocessableEntity || !containsField(body, "limit") {
		t.Fatalf("?limit=0: HTTP %d %s, want 422 naming limit", resp.StatusCode, body)
	}
}
