package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAuditLogRecordsChangesAndReadsWithoutValues makes admin changes and
// reads a setting with a runtime key, then reads the audit log: who did
// what, when, and never a value.
func TestAuditLogRecordsChangesAndReadsWithoutValues(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/alpha", testAdminKey, "application/json",
		`{"settings": [{"name": "api_secret", "level": "org", "secret": true}]}`)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/alpha/orgs/acme/settings", testAdminKey, "application/json", `{"api_secret": "hunter2-value"}`)
	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "runtime", "app": "alpha", "name": "backend"}`))
	runtimeKey := created["key"].(string)
	runtimeID := created["api_key"].(map[string]any)["id"].(string)
	h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/acme/users/u1/settings/api_secret", runtimeKey, "", "")

	// Reads are written in batches: wait for the one holding ours.
	var events []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := h.expect(http.StatusOK, "GET", "/api/v1/audit?app=alpha", testAdminKey, "", "")
		if strings.Contains(string(body), "hunter2-value") || strings.Contains(string(body), runtimeKey) {
			t.Fatal("the audit log holds a secret value or a key")
		}
		var out struct{ Events []map[string]any }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		events = out.Events
		if len(events) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := []struct{ action, actor, detail string }{
		{"setting.read", runtimeID, "setting api_secret"},
		{"apikey.create", "", "scope runtime"},
		{"installation.put", "", "settings: api_secret"},
		{"app.put", "", "revision 1"},
	}
	if len(events) != len(want) {
		t.Fatalf("got %d events %v, want %d", len(events), events, len(want))
	}
	for i, w := range want {
		e := events[i]
		if e["action"] != w.action || !strings.Contains(e["detail"].(string), w.detail) || e["time"] == "" {
			t.Errorf("event %d: got %v, want %s with %q", i, e, w.action, w.detail)
		}
		if w.actor != "" && e["actor"] != w.actor {
			t.Errorf("event %d: got actor %v, want %s", i, e["actor"], w.actor)
		}
	}
	// The audit log is for admins.
	h.expect(http.StatusForbidden, "GET", "/api/v1/audit", runtimeKey, "", "")
	h.expect(http.StatusUnprocessableEntity, "GET", "/api/v1/audit?limit=0", testAdminKey, "", "")
}

// TestAuditLogFiltersByActorAndOrgOnTheServer: two runtime keys read the
// settings of two orgs; the audit log filtered by one key's id lists its
// reads only, by org that org's events only, by both their intersection,
// and pages through one actor's events; a filter value that cannot be an
// actor or an org is a 400 naming the parameter.
func TestAuditLogFiltersByActorAndOrgOnTheServer(t *testing.T) {
	h := startLatchkey(t)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/alpha", testAdminKey, "application/json", `{"settings": [{"name": "region", "level": "org"}]}`)
	for _, org := range []string{"acme", "beta"} {
		h.expect(http.StatusOK, "PUT", "/api/v1/apps/alpha/orgs/"+org+"/settings", testAdminKey, "application/json", `{"region": "eu"}`)
	}
	var keys, ids [2]string
	for i := range keys {
		created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"scope": "runtime", "app": "alpha"}`))
		keys[i], ids[i] = created["key"].(string), created["api_key"].(map[string]any)["id"].(string)
	}
	// Key 0 reads acme's value twice and beta's once; key 1 reads beta's.
	for _, read := range []struct{ key, org string }{{keys[0], "acme"}, {keys[0], "beta"}, {keys[0], "acme"}, {keys[1], "beta"}} {
		h.expect(http.StatusOK, "GET", "/api/v1/apps/alpha/orgs/"+read.org+"/users/u1/settings/region", read.key, "", "")
	}
	type event struct {
		ID                 int64
		Actor, Action, Org string
	}
	list := func(query string) []event {
		t.Helper()
		var out struct{ Events []event }
		if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/audit?"+query, testAdminKey, "", ""), &out); err != nil {
			t.Fatal(err)
		}
		return out.Events
	}
	// Reads are written in batches: wait for the four.
	for deadline := time.Now().Add(5 * time.Second); len(list("action=setting.read")) < 4; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("got %d reads in the audit log, want 4", len(list("action=setting.read")))
		}
	}
	check := func(query string, want func(e event) bool, n int) []event {
		t.Helper()
		got := list(query)
		if len(got) != n {
			t.Fatalf("?%s: got %d events %+v, want %d", query, len(got), got, n)
		}
		for _, e := range got {
			if !want(e) {
				t.Errorf("?%s: got event %+v, which the filter excludes", query, e)
			}
		}
		return got
	}
	check("actor="+ids[0], func(e event) bool { return e.Actor == ids[0] }, 3)
	check("actor="+ids[1], func(e event) bool { return e.Actor == ids[1] && e.Org == "beta" }, 1)
	// acme: its installation and key 0's two reads.
	check("org=acme", func(e event) bool { return e.Org == "acme" }, 3)
	check("org=beta&actor="+ids[0], func(e event) bool { return e.Org == "beta" && e.Actor == ids[0] }, 1)
	check("actor=nobody", nil, 0)
	first := check("actor="+ids[0]+"&limit=2", func(e event) bool { return e.Actor == ids[0] }, 2)
	check("actor="+ids[0]+"&limit=2&before="+strconv.FormatInt(first[1].ID, 10), func(e event) bool { return e.Actor == ids[0] && e.ID < first[1].ID }, 1)

	for _, tc := range []struct{ name, query, field string }{
		{"an actor of two lines", "actor=k1%0Ak2", "actor"},
		{"an actor longer than 512 bytes", "actor=" + strings.Repeat("k", 513), "actor"},
		{"an org with a slash", "org=acme%2Fbeta", "org"},
		{"an org with a space", "org=ac+me", "org"},
	} {
		resp, body := h.do("GET", "/api/v1/audit?"+tc.query, testAdminKey, "", "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: got HTTP %d %s, want 400 naming %s", tc.name, resp.StatusCode, body, tc.field)
		}
	}
}
