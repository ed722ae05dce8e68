package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// TestBrowserOrgSettingsAndInstallLinks edits an org's settings as an admin:
// a required value left empty gets its message beside its field, a secret
// replaced is stored, one left blank keeps its value; then an install link
// is created, shown with its copy button and expiry, and revoked.
func TestBrowserOrgSettingsAndInstallLinks(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL(),
		"  - {name: access_token", "  - {name: webhook_secret, level: org, secret: true, description: Signs the provider's webhooks}\n  - {name: access_token").Replace(browserApp)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "old-id", "client_secret": "old-secret", "webhook_secret": "kept-webhook-secret"}`)

	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))

	// The org's editor: values shown, secrets masked (never in a field).
	var clientID, secret string
	browse(t, ctx, "open acme's settings", openUI(h, "#/apps/capacity/orgs"), chromedp.WaitVisible("#install-org", chromedp.ByQuery),
		chromedp.Click(`//a[starts-with(., "acme")]`), chromedp.WaitVisible("#org-setting-client_id", chromedp.ByQuery),
		chromedp.Value("#org-setting-client_id", &clientID, chromedp.ByQuery), chromedp.Value("#org-setting-client_secret", &secret, chromedp.ByQuery))
	if clientID != "old-id" || secret != "" {
		t.Errorf("editor shows client_id %q and client_secret %q, want old-id and an empty (masked) secret field", clientID, secret)
	}
	checkPage(t, ctx, "orgs-01-settings")

	// A required value left empty: its message beside its field.
	var fieldErr string
	step(t, ctx, "save without the required client id", setInput("#org-setting-client_id", ""), chromedp.Click(`//button[text()="Save settings"]`),
		chromedp.WaitVisible(`[data-field="org-setting-client_id"] .field-error`, chromedp.ByQuery),
		chromedp.Text(`[data-field="org-setting-client_id"] .field-error`, &fieldErr, chromedp.ByQuery))
	if !strings.Contains(fieldErr, "required") {
		t.Errorf("client_id's message: got %q, want it to say the value is required", fieldErr)
	}
	checkPage(t, ctx, "orgs-02-settings-error")

	// One secret replaced, the other left blank: kept.
	step(t, ctx, "save a replaced secret", setInput("#org-setting-client_id", "new-id"), setInput("#org-setting-client_secret", "new-secret"),
		chromedp.Click(`//button[text()="Save settings"]`), chromedp.WaitVisible("#org-settings-saved", chromedp.ByQuery))
	inst, err := h.main.Store().GetInstallation(t.Context(), "capacity", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Values["client_id"] != "new-id" || inst.Values["client_secret"] != "new-secret" || inst.Values["webhook_secret"] != "kept-webhook-secret" {
		t.Errorf("stored values %v: want client_id new-id, client_secret new-secret and webhook_secret kept", inst.Values)
	}

	// Clearing a secret empties it.
	step(t, ctx, "clear the webhook secret", chromedp.Click("#org-setting-webhook_secret-clear", chromedp.ByQuery),
		chromedp.Click(`//button[text()="Save settings"]`), chromedp.WaitVisible("#org-settings-saved", chromedp.ByQuery))
	inst, _ = h.main.Store().GetInstallation(t.Context(), "capacity", "acme")
	if inst.Values["webhook_secret"] != "" {
		t.Errorf("webhook_secret after Clear: got %q, want it empty", inst.Values["webhook_secret"])
	}

	// An install link: the URL to copy, its expiry, then revoked.
	var url, shown, state string
	browse(t, ctx, "create an install link", chromedp.Evaluate(`window.confirm = () => true`, nil),
		openUI(h, "#/apps/capacity/orgs"), chromedp.WaitVisible("#install-org", chromedp.ByQuery),
		setInput("#install-org", "beta"), chromedp.Click(`//button[text()="Create install link"]`),
		chromedp.WaitVisible("#install-link-value", chromedp.ByQuery), chromedp.Text("#install-link-value", &shown, chromedp.ByQuery),
		chromedp.AttributeValue("#install-link-url", "href", &url, nil, chromedp.ByQuery))
	if shown == "" || shown != url {
		t.Errorf("install link to copy %q, link %q: want the same URL", shown, url)
	}
	var expiry string
	browse(t, ctx, "read the expiry", chromedp.Text(".install-link-new .ok", &expiry, chromedp.ByQuery))
	if !strings.Contains(expiry, "expires") {
		t.Errorf("the new link says %q, want its expiry", expiry)
	}
	browse(t, ctx, "copy it", chromedp.Click(`//button[starts-with(., "Copy")]`), chromedp.WaitVisible(`//span[@role="status" and (text()="Copied." or starts-with(text(), "Selected"))]`))
	checkPage(t, ctx, "orgs-03-install-link")
	browse(t, ctx, "revoke it", chromedp.Click(`//button[starts-with(., "Revoke")]`),
		chromedp.WaitVisible(`//td[@class="install-link-state" and text()="revoked"]`), chromedp.Text(".install-link-state", &state, chromedp.ByQuery))
	if state != "revoked" {
		t.Errorf("link state %q, want revoked", state)
	}
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %v", e)
	}
}

// TestBrowserEnvironmentsAndPromotion creates an environment, promotes an
// app to it with the difference shown first, switches to it (an unsaved
// edit is asked about first; the switched environment's apps show), and
// deletes it, the server's word on what it holds shown before.
func TestBrowserEnvironmentsAndPromotion(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	provider := providertest.New(t, providertest.Options{ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		Now: h.clock.Now, AccessTTL: time.Hour, RedirectURIs: []string{h.main.URL + "/oauth/callback"}})
	doc := strings.NewReplacer("AUTHORIZE", provider.AuthorizeURL(), "TOKEN", provider.TokenURL()).Replace(browserApp)
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)

	browse(t, ctx, "sign in", chromedp.Navigate(h.main.URL+"/ui/"), chromedp.WaitVisible("#email", chromedp.ByQuery),
		setInput("#email", testAdminEmail), setInput("#password", testAdminPassword),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible("#app-doc", chromedp.ByQuery))

	// A bad name is named by its field; a good one is created and offered in the switcher.
	var nameErr string
	browse(t, ctx, "open environments", chromedp.Click(`//nav//a[text()="Environments"]`), chromedp.WaitVisible("#env-name", chromedp.ByQuery))
	step(t, ctx, "create a badly named environment", setInput("#env-name", "Bad Name"), chromedp.Click(`//button[text()="Create environment"]`),
		chromedp.WaitVisible(`[data-field="env-name"] .field-error`, chromedp.ByQuery), chromedp.Text(`[data-field="env-name"] .field-error`, &nameErr, chromedp.ByQuery))
	if nameErr == "" {
		t.Error("no message beside the name of a badly named environment")
	}
	browse(t, ctx, "create staging", setInput("#env-name", "staging"), chromedp.Click(`//button[text()="Create environment"]`),
		chromedp.WaitVisible("#env-created", chromedp.ByQuery), chromedp.WaitReady(`#env-switch option[value="staging"]`, chromedp.ByQuery))

	// Staging's public URL, edited in place: a bad one is named beside the
	// field, a good one shows in the list.
	var urlErr string
	step(t, ctx, "edit staging's public URL", chromedp.Click(`//tr[@id="env-staging"]//button[contains(., "Edit")]`),
		chromedp.WaitVisible("#env-url-staging", chromedp.ByQuery), setInput("#env-url-staging", "not a url"),
		chromedp.Click(`//tr[@id="env-staging"]//button[text()="Save"]`),
		chromedp.WaitVisible(`[data-field="env-url-staging"] .field-error`, chromedp.ByQuery),
		chromedp.Text(`[data-field="env-url-staging"] .field-error`, &urlErr, chromedp.ByQuery))
	if urlErr == "" {
		t.Error("no message beside a bad public URL")
	}
	step(t, ctx, "save a good public URL", setInput("#env-url-staging", "https://staging.example.com"),
		chromedp.Click(`//tr[@id="env-staging"]//button[text()="Save"]`),
		chromedp.WaitVisible(`//tr[@id="env-staging"]//code[text()="https://staging.example.com"]`))

	// Promotion: capacity is not in staging; its difference first, then the copy.
	var diff, stateAfter string
	step(t, ctx, "promote capacity with its diff", chooseOption("#env-promote-to", "staging"), chromedp.WaitVisible(`#promote-capacity-state[data-state="missing"]`, chromedp.ByQuery),
		chromedp.Poll(`(() => { const d = document.querySelector("#promote-capacity-diff"); if (d) return true; const b = document.querySelector("#promote-capacity button.small"); if (b) b.click(); return false })()`, nil, chromedp.WithPollingInterval(200*time.Millisecond)),
		chromedp.Text("#promote-capacity-diff", &diff, chromedp.ByQuery))
	if !strings.Contains(diff, `+ `) || !strings.Contains(diff, "capacity") || strings.Contains(diff, "s3cr3t") {
		t.Errorf("diff %q: want the added document, secrets redacted", diff)
	}
	checkPage(t, ctx, "env-01-promote-diff")
	step(t, ctx, "apply the promotion", chromedp.Click(`//button[normalize-space(.)="Promote capacity to staging"]`),
		chromedp.WaitVisible("#promote-capacity-done", chromedp.ByQuery), chromedp.WaitVisible(`#promote-capacity-state[data-state="same"]`, chromedp.ByQuery),
		chromedp.Text("#promote-capacity-state", &stateAfter, chromedp.ByQuery))
	if t.Failed() {
		var text string
		_ = chromedp.Run(ctx, chromedp.Text("main", &text, chromedp.ByQuery))
		t.Fatalf("the environments screen after the promotion: %s", text)
	}
	checkPage(t, ctx, "env-02-environments")

	// An unsaved edit in dev: switching is asked about, and refused keeps dev.
	var env string
	browse(t, ctx, "edit the app unsaved", openUI(h, "#/apps/capacity"), chromedp.WaitVisible("#c0-token_url", chromedp.ByQuery),
		setInput("#c0-token_url", "https://changed.example/token"),
		chromedp.Evaluate(`window.__asked = 0; window.confirm = () => { window.__asked++; return false }`, nil),
		switchEnvironment("staging"),
		chromedp.Sleep(200*time.Millisecond), chromedp.Value("#env-switch", &env, chromedp.ByQuery))
	var asked int
	browse(t, ctx, "count the questions", chromedp.Evaluate(`window.__asked`, &asked))
	if asked != 1 || env != "dev" {
		t.Errorf("switching with an unsaved edit: asked %d times, switcher on %q; want asked once and still dev", asked, env)
	}
	// Said yes: staging's data shows, not dev's stale screen.
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/only-dev", testAdminKey, "application/yaml",
		strings.Replace(doc, "name: capacity\nlabel: Capacity", "name: only-dev\nlabel: Only in dev", 1))
	var listed string
	step(t, ctx, "switch to staging", chromedp.Evaluate(`window.confirm = () => true`, nil),
		openUI(h, "#/apps"), chromedp.WaitVisible(`//main//a[text()="only-dev"]`),
		switchEnvironment("staging"),
		chromedp.WaitVisible(`//main//a[text()="capacity"]`), chromedp.Sleep(300*time.Millisecond), chromedp.Text("main", &listed, chromedp.ByQuery))
	if strings.Contains(listed, "only-dev") {
		t.Errorf("staging's app list shows dev's app: %q", listed)
	}

	// Back in dev, delete staging: the server says it holds an app, then it goes.
	var conflict string
	step(t, ctx, "delete staging", switchEnvironment("dev"),
		openUI(h, "#/environments"), chromedp.WaitVisible("#env-staging", chromedp.ByQuery),
		chromedp.Click(`//tr[@id="env-staging"]//button[contains(., "Delete")]`), chromedp.WaitVisible("#env-delete-error", chromedp.ByQuery),
		chromedp.Text("#env-delete-error", &conflict, chromedp.ByQuery))
	if !strings.Contains(conflict, "force") && !strings.Contains(conflict, "app") {
		t.Errorf("deleting staging said %q, want the server's word on its apps", conflict)
	}
	checkPage(t, ctx, "env-03-delete-conflict")
	step(t, ctx, "delete it with everything", chromedp.Click(`//button[normalize-space(.)="Delete staging with everything in it"]`),
		chromedp.WaitVisible("#env-deleted", chromedp.ByQuery), chromedp.WaitNotPresent("#env-staging", chromedp.ByQuery))
	if e := errs(); len(e) > 0 {
		t.Errorf("console errors: %v", e)
	}
}

// switchEnvironment picks an environment in the header's switcher, as a person would.
func switchEnvironment(name string) chromedp.Action { return chooseOption("#env-switch", name) }

// chooseOption picks the option value of the select sel, as a person would.
func chooseOption(sel, value string) chromedp.Action {
	return chromedp.Evaluate(`(() => { const el = document.querySelector('`+sel+`'); el.value = '`+value+`';
		el.dispatchEvent(new Event('change', {bubbles: true})) })()`, nil)
}
