package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserStartFromTheCatalog is a builder's first minutes: open the
// catalog, narrow it by a search, open Asana, create an app from it, and
// read the callback URL to register at the provider, with a copy button;
// the app editor shows the same URL. A second app of the same name is
// refused beside the name field.
func TestBrowserStartFromTheCatalog(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	signInToUI(t, ctx, h)

	var all, narrowed int
	browse(t, ctx, "open the catalog", chromedp.Click(`//nav//a[text()="Catalog"]`), chromedp.WaitVisible(".catalog-card", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('.catalog-card').length`, &all))
	checkPage(t, ctx, "50-catalog")
	browse(t, ctx, "search asana", setInput("#catalog-search", "asana"),
		chromedp.Poll(`document.querySelectorAll('.catalog-card').length < 10`, nil),
		chromedp.Evaluate(`document.querySelectorAll('.catalog-card').length`, &narrowed))
	if all < 100 || narrowed < 1 || narrowed >= all {
		t.Fatalf("the gallery shows %d entries, %d after searching asana: want the whole catalog, then a few", all, narrowed)
	}
	var callback string
	browse(t, ctx, "create the app from Asana", chromedp.Click(`.catalog-card[data-name="asana"] h2 a`, chromedp.ByQuery),
		chromedp.WaitVisible("#catalog-app-name", chromedp.ByQuery), chromedp.Click(`//button[text()="Create app"]`))
	if !step(t, ctx, "see the callback URL", chromedp.WaitVisible("#catalog-callback", chromedp.ByQuery), chromedp.Text("#catalog-callback", &callback, chromedp.ByQuery)) {
		var page string
		browse(t, ctx, "read the page", chromedp.Text("main", &page, chromedp.ByQuery))
		t.Fatalf("no callback URL; the page reads: %s", page)
	}
	if callback != h.main.URL+"/oauth/callback" {
		t.Errorf("the callback URL shown: got %q, want %s/oauth/callback", callback, h.main.URL)
	}
	checkPage(t, ctx, "51-catalog-next-steps")

	var app struct {
		CallbackURL string `json:"callback_url"`
	}
	body := h.expect(http.StatusOK, "GET", "/api/v1/apps/asana", testAdminKey, "", "")
	if err := json.Unmarshal(body, &app); err != nil || app.CallbackURL != callback {
		t.Errorf("GET the app: got callback_url %q (%v), want the one shown", app.CallbackURL, err)
	}
	// The editor sends back what it read: the callback URL is accepted and not stored.
	sent := strings.Replace(string(body), `"callback_url":"`+callback+`"`, `"callback_url":"https://evil.example/steal"`, 1)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/asana", testAdminKey, "application/json", sent)
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/asana", testAdminKey, "", ""), &app); err != nil || app.CallbackURL != callback {
		t.Errorf("after a PUT carrying another callback_url: got %q, want the server's %q", app.CallbackURL, callback)
	}

	var inEditor, nameErr string
	browse(t, ctx, "the editor shows it", openUI(h, "#/apps/asana"), chromedp.WaitVisible("#app-callback-url", chromedp.ByQuery),
		chromedp.Text("#app-callback-url", &inEditor, chromedp.ByQuery))
	if inEditor != callback {
		t.Errorf("the editor's callback URL: got %q, want %q", inEditor, callback)
	}
	browse(t, ctx, "a second asana is refused", openUI(h, "#/catalog/asana"), chromedp.WaitVisible("#catalog-app-name", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Create app"]`),
		chromedp.WaitVisible(`[data-field="catalog-app-name"] .field-error`, chromedp.ByQuery),
		chromedp.Text(`[data-field="catalog-app-name"] .field-error`, &nameErr, chromedp.ByQuery))
	if nameErr == "" {
		t.Error("no message beside the name of an app that exists")
	}
	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}
