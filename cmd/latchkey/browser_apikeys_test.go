package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAPIKeysShowTheirLastUse: on the API keys screen a key that
// authenticated a request shows when, in the UI's time format, and a key
// never used says "never".
func TestBrowserAPIKeysShowTheirLastUse(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	capacityInstalled(t, h)
	used := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"name": "backend", "scope": "runtime", "app": "capacity"}`))
	idle := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"name": "spare", "scope": "admin"}`))
	usedID := used["api_key"].(map[string]any)["id"].(string)
	idleID := idle["api_key"].(map[string]any)["id"].(string)
	h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/acme/settings", used["key"].(string), "", "")
	// The use is written in the background: wait until the API lists it.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(h.expect(http.StatusOK, "GET", "/api/v1/apikeys", testAdminKey, "", "")), `"last_used_at":"`) {
		if time.Now().After(deadline) {
			t.Fatal("the key's use was never listed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	signInToUI(t, ctx, h)
	var usedCell, idleCell, header string
	browse(t, ctx, "open the API keys", openUI(h, "#/keys"), chromedp.WaitVisible(`tr[data-key="`+usedID+`"]`, chromedp.ByQuery),
		chromedp.Text("table.apikeys thead", &header, chromedp.ByQuery),
		chromedp.Text(`tr[data-key="`+usedID+`"] td.last-used`, &usedCell, chromedp.ByQuery),
		chromedp.Text(`tr[data-key="`+idleID+`"] td.last-used`, &idleCell, chromedp.ByQuery))
	if !strings.Contains(header, "Last used") {
		t.Errorf("the table's header: got %q, want a Last used column", header)
	}
	// fmtTime: "23 Nov 2026, 09:00:00 UTC" (the browser's zone).
	if !regexp.MustCompile(`2026.*\d\d:\d\d:\d\d`).MatchString(usedCell) {
		t.Errorf("the used key's Last used: got %q, want the time of its use", usedCell)
	}
	if strings.TrimSpace(idleCell) != "never" {
		t.Errorf("the idle key's Last used: got %q, want never", idleCell)
	}
	checkPage(t, ctx, "45-api-keys-last-used")
	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}
