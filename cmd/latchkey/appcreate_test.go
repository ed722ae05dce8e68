package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCreatingAnAppNeverReplacesOne: the builder's "Create app" sends its
// PUT with If-None-Match: *, and a name in use is refused with a 409 that
// names the field name, leaving the existing app as it was; without the
// header a PUT still replaces.
func TestCreatingAnAppNeverReplacesOne(t *testing.T) {
	h := startLatchkey(t)
	seedCapacity(t, h)
	before := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", "")
	createOnly := http.Header{"Authorization": {"Bearer " + testAdminKey}, "Content-Type": {"application/yaml"}, "If-None-Match": {"*"}}

	resp, body := h.send("PUT", "/api/v1/apps/capacity", createOnly, "name: capacity\nlabel: Someone else's\n")
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("creating a taken name: got HTTP %d %s, want 409", resp.StatusCode, body)
	}
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || len(e.Error.Details) != 1 || e.Error.Details[0].Field != "name" {
		t.Fatalf("creating a taken name: got %s, want one detail naming the field name", body)
	}
	if got := h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""); string(got) != string(before) {
		t.Fatalf("a refused create changed the app:\n got %s\nwant %s", got, before)
	}

	resp, body = h.send("PUT", "/api/v1/apps/fresh", createOnly, "name: fresh\n")
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"revision":1`) {
		t.Fatalf("creating a new name: got HTTP %d %s, want 201 and revision 1", resp.StatusCode, body)
	}
	resp, body = h.send("PUT", "/api/v1/apps/fresh", http.Header{"Authorization": {"Bearer " + testAdminKey}, "If-None-Match": {`"v1"`}}, `{"name": "fresh"}`)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an If-None-Match other than *: got HTTP %d %s, want 400", resp.StatusCode, body)
	}
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/fresh", testAdminKey, "application/yaml", "name: fresh\nlabel: Replaced\n")
}
