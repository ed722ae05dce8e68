package main

import (
	"encoding/json"
	"net/http"
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
