package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAuditLogFiltersOnTheServer: an admin filters the audit log by
// actor and by org; the rows are the server's answer to those filters, the
// filters stay in the address through a reload, an org in the table links
// to its events, and an org that cannot be one is refused beside its field.
func TestBrowserAuditLogFiltersOnTheServer(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	capacityInstalled(t, h)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/beta/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value"}`)
	created := decode(t, h.expect(http.StatusCreated, "POST", "/api/v1/apikeys", testAdminKey, "application/json", `{"name": "backend", "scope": "runtime", "app": "capacity"}`))
	key, id := created["key"].(string), created["api_key"].(map[string]any)["id"].(string)
	for _, org := range []string{"acme", "beta", "acme"} {
		h.expect(http.StatusOK, "GET", "/api/v1/apps/capacity/orgs/"+org+"/users/u1/settings/client_id", key, "", "")
	}
	// The key's reads are written in batches: wait for the three.
	for deadline := time.Now().Add(5 * time.Second); strings.Count(string(h.expect(http.StatusOK, "GET", "/api/v1/audit?actor="+id, testAdminKey, "", "")), `"actor":"`+id+`"`) < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the key's reads never reached the audit log")
		}
	}

	signInToUI(t, ctx, h)
	rows := func(what string) (actors, orgs []string) {
		t.Helper()
		browse(t, ctx, what, chromedp.WaitVisible("table.audit tbody tr", chromedp.ByQuery),
			chromedp.Evaluate(`[...document.querySelectorAll('table.audit tbody tr td.actor')].map(td => td.title)`, &actors),
			chromedp.Evaluate(`[...document.querySelectorAll('table.audit tbody tr')].map(tr => tr.children[4].textContent)`, &orgs))
		return actors, orgs
	}
	browse(t, ctx, "open the audit log", openUI(h, "#/audit"), chromedp.WaitVisible("#audit-actor", chromedp.ByQuery))
	// The actor is picked by name; the filter is the key's id.
	var label string
	browse(t, ctx, "pick the key by its name", chromedp.WaitReady(`#audit-actor option[value="`+id+`"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#audit-actor option[value="`+id+`"]').textContent`, &label))
	if !strings.Contains(label, "backend") {
		t.Errorf("the key's option in the actor filter: got %q, want its name", label)
	}
	browse(t, ctx, "filter by the key", chooseOption("#audit-actor", id), chromedp.Click(`//button[text()="Filter"]`),
		auditShows(`e => e.querySelector('td.actor').title === `+strconv.Quote(id)))
	actors, _ := rows("read the key's events")
	if len(actors) != 3 || strings.Count(strings.Join(actors, " "), id) != 3 {
		t.Errorf("filtered by the key: got actors %v, want its 3 reads only", actors)
	}
	var hash, field string
	browse(t, ctx, "reload", chromedp.Evaluate(`location.hash`, &hash), chromedp.Reload(), chromedp.WaitVisible("table.audit tbody tr", chromedp.ByQuery),
		chromedp.Value("#audit-actor", &field, chromedp.ByQuery))
	if !strings.Contains(hash, "actor="+id) || field != id {
		t.Errorf("after a reload: got the hash %q and the actor field %q, want the filter kept", hash, field)
	}
	if actors, _ := rows("read the events after the reload"); len(actors) != 3 {
		t.Errorf("after a reload: got %d events, want the key's 3", len(actors))
	}
	checkPage(t, ctx, "audit-01-filtered")

	// An org in the table links to that org's events, the actor kept.
	browse(t, ctx, "follow the org beta", chromedp.Click(`//table[contains(@class, "audit")]//a[text()="beta"]`),
		auditShows(`e => e.children[4].textContent === 'beta'`))
	actors, orgs := rows("read beta's events of the key")
	if len(actors) != 1 || actors[0] != id || len(orgs) != 1 || orgs[0] != "beta" {
		t.Errorf("the key's events in beta: got actors %v in orgs %v, want its one read of beta", actors, orgs)
	}

	var problem string
	browse(t, ctx, "clear the filters", chromedp.Click(`//button[text()="Clear"]`),
		chromedp.Poll(`location.hash === '#/audit' && document.getElementById('audit-org').value === '' && document.getElementById('audit-actor').value === ''`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	browse(t, ctx, "filter by an org that cannot be one", setInput("#audit-org", "ac me"), chromedp.Click(`//button[text()="Filter"]`),
		chromedp.WaitVisible("#audit-org-error", chromedp.ByQuery), chromedp.Text("#audit-org-error", &problem, chromedp.ByQuery))
	if problem == "" {
		t.Error("an org with a space: got no message beside the org field")
	}
	checkPage(t, ctx, "audit-02-bad-org")
	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}

// auditShows waits until the audit log's table shows rows, every one
// passing the JavaScript predicate every (over a row): the list of the
// filters just applied, not the one before.
func auditShows(every string) chromedp.Action {
	return chromedp.Poll(`(() => { const rows = [...document.querySelectorAll('table.audit tbody tr')]; return rows.length > 0 && rows.every(`+every+`) })()`,
		nil, chromedp.WithPollingTimeout(10*time.Second))
}
