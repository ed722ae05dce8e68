package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestTheAPIDocumentIsServedAndRendered: anyone can read the OpenAPI
// document at /api/v1/openapi.json and its reference at /docs, a page
// without a script that the pages' Content-Security-Policy allows.
func TestTheAPIDocumentIsServedAndRendered(t *testing.T) {
	h := startLatchkey(t)

	resp, b := h.do("GET", "/api/v1/openapi.json", "", "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: got HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc := decode(t, b)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/api/v1/apps/{app}", "/api/v1/apps/{app}/orgs/{org}/users/{user}/connections/{config}/link", "/oauth/callback"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("the served document has no path %s", p)
		}
	}
	if _, ok := doc["x-responses"]; !ok {
		t.Error("the served document lost its shared responses")
	}

	resp, b = h.do("GET", "/docs", "", "", "")
	page := string(b)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: got HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`id="createLink"`, "/api/v1/apps/{app}/orgs/{org}/users/{user}/connections/{config}", `id="schema-Error"`, "Latchkey-Error"} {
		if !strings.Contains(page, want) {
			t.Errorf("/docs has no %s", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("/docs has a script; it is meant to be plain HTML")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("/docs: Content-Security-Policy = %q, want the pages' policy", csp)
	}
}
