package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAdminsAddDeleteAndChangePassword manages admin accounts in
// the builder UI: the list marks you and will not delete you; a short
// password is refused beside its field; the admin added can sign in; once
// deleted in the UI, that admin's session is refused; changing your own
// password keeps this browser signed in (the next change still carries a
// valid CSRF token). Each state passes axe-core at 375 and 1280 px.
func TestBrowserAdminsAddDeleteAndChangePassword(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	signInToUI(t, ctx, h)

	var me string
	var meDisabled bool
	browse(t, ctx, "open the admins from the nav", chromedp.Click(`//nav//a[text()="Admins"]`),
		chromedp.WaitVisible(`tr[data-admin="ada@example.com"]`, chromedp.ByQuery),
		chromedp.Text(`tr[data-admin="ada@example.com"]`, &me, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('tr[data-admin="ada@example.com"] button.danger').disabled`, &meDisabled))
	if !strings.Contains(me, "(you)") || !meDisabled {
		t.Errorf("your own row: got %q (delete disabled: %v), want it marked (you) with Delete disabled", me, meDisabled)
	}
	checkPage(t, ctx, "50-admins")

	var fieldErr string
	browse(t, ctx, "add an admin with a short password", setInput("#admin-email", "grace@example.com"), setInput("#admin-password", "short"),
		chromedp.Click(`//button[text()="Add admin"]`), chromedp.WaitVisible("#admin-password-error", chromedp.ByQuery),
		chromedp.Text("#admin-password-error", &fieldErr, chromedp.ByQuery))
	if !strings.Contains(fieldErr, "12") {
		t.Errorf("the password's error: got %q, want the 12-character rule", fieldErr)
	}
	checkPage(t, ctx, "51-admins-short-password")

	browse(t, ctx, "add the admin with a long password", setInput("#admin-password", "grace's long passphrase"),
		chromedp.Click(`//button[text()="Add admin"]`), chromedp.WaitVisible("#admin-added", chromedp.ByQuery),
		chromedp.WaitVisible(`tr[data-admin="grace@example.com"]`, chromedp.ByQuery))
	grace := adminsSignIn(t, h, "grace@example.com", "grace's long passphrase")
	grace.expect(http.StatusOK, "GET", "/api/v1/apps", "")

	browse(t, ctx, "delete the new admin", chromedp.Evaluate(`window.__asked = ''; window.confirm = q => { window.__asked = q; return true }`, nil),
		chromedp.Click(`tr[data-admin="grace@example.com"] button.danger`, chromedp.ByQuery), chromedp.WaitVisible("#admin-deleted", chromedp.ByQuery),
		chromedp.WaitNotPresent(`tr[data-admin="grace@example.com"]`, chromedp.ByQuery))
	var asked string
	browse(t, ctx, "read the question", chromedp.Evaluate(`window.__asked`, &asked))
	if !strings.Contains(asked, "grace@example.com") {
		t.Errorf("the confirmation: got %q, want it to name grace@example.com", asked)
	}
	grace.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", "")

	browse(t, ctx, "change your own password", chromedp.Click(`//tr[@data-admin="ada@example.com"]//button[starts-with(., "Change password")]`),
		chromedp.WaitVisible("#admin-current-password", chromedp.ByQuery),
		setInput("#admin-current-password", testAdminPassword), setInput("#admin-new-password", "ada's brand new passphrase"),
		chromedp.Click(`//form//button[text()="Change password"]`), chromedp.WaitVisible("#admin-password-changed", chromedp.ByQuery))
	checkPage(t, ctx, "52-admins-password-changed")
	browse(t, ctx, "still signed in: add another admin", setInput("#admin-email", "alan@example.com"), setInput("#admin-password", "alan's long passphrase"),
		chromedp.Click(`//button[text()="Add admin"]`), chromedp.WaitVisible(`tr[data-admin="alan@example.com"]`, chromedp.ByQuery))
	adminsSignIn(t, h, testAdminEmail, "ada's brand new passphrase")

	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}
