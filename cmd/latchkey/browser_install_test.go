package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserInstallPromptCopiesTheCallbackURL opens an install link as an
// org's admin would: the callback URL to register at the provider is shown
// read-only beside a copy button; pressing it puts the URL in the
// clipboard and the button then says Copied, announced to screen readers.
// Without script the URL is still there, selectable, and no dead button
// shows.
func TestBrowserInstallPromptCopiesTheCallbackURL(t *testing.T) {
	ctx := newBrowser(t)
	errs := watchPageErrors(ctx)
	h := startLatchkey(t)
	capacityInstalled(t, h)
	var app struct {
		CallbackURL string `json:"callback_url"`
	}
	if err := json.Unmarshal(h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity", testAdminKey, "", ""), &app); err != nil || app.CallbackURL == "" {
		t.Fatalf("the app's callback_url: got %q (%v), want one", app.CallbackURL, err)
	}
	installURL := func() string {
		return decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apps/capacity/orgs/acme/install-link", testAdminKey, "", ""))["url"].(string)
	}

	var shown, label, status, clipboard string
	var readOnly bool
	browse(t, ctx, "allow the clipboard", browser.GrantPermissions([]browser.PermissionType{browser.PermissionTypeClipboardReadWrite,
		browser.PermissionTypeClipboardSanitizedWrite}).WithOrigin(h.main.URL))
	browse(t, ctx, "open the install prompt", chromedp.Navigate(installURL()), chromedp.WaitVisible("#copy_callback_url", chromedp.ByQuery),
		chromedp.Value("#callback_url", &shown, chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById('callback_url').readOnly`, &readOnly))
	if shown != app.CallbackURL || !readOnly {
		t.Errorf("the callback URL field: got %q (read-only %v), want %q read-only", shown, readOnly, app.CallbackURL)
	}
	checkPage(t, ctx, "install-01-callback-url")
	browse(t, ctx, "copy the callback URL", chromedp.Click("#copy_callback_url", chromedp.ByQuery),
		chromedp.WaitVisible(`//button[@id="copy_callback_url"][text()="Copied"]`),
		chromedp.Text("#copy_callback_url", &label, chromedp.ByQuery),
		chromedp.TextContent("#copy_callback_url_status", &status, chromedp.ByQuery),
		chromedp.Evaluate(`navigator.clipboard.readText()`, &clipboard, awaitPromise))
	if label != "Copied" || !strings.Contains(status, "copied") {
		t.Errorf("after copying: got the button %q and the status %q, want Copied and a status saying so", label, status)
	}
	if clipboard != app.CallbackURL {
		t.Errorf("the clipboard: got %q, want %q", clipboard, app.CallbackURL)
	}

	var buttonShown bool
	browse(t, ctx, "open the install prompt without script", emulation.SetScriptExecutionDisabled(true),
		chromedp.Navigate(installURL()), chromedp.WaitVisible("#callback_url", chromedp.ByQuery),
		chromedp.Value("#callback_url", &shown, chromedp.ByQuery))
	browse(t, ctx, "look for the copy button", emulation.SetScriptExecutionDisabled(false),
		chromedp.Evaluate(`getComputedStyle(document.getElementById('copy_callback_url')).display !== 'none'`, &buttonShown))
	if shown != app.CallbackURL || buttonShown {
		t.Errorf("without script: got the URL %q and a copy button shown %v, want %q and no button", shown, buttonShown, app.CallbackURL)
	}
	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}
