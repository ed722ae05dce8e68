package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhooksShowTheSecretOnceAndTheDeliveryLog creates a webhook
// in the UI as a builder would: its signing secret is shown once, with a
// copy button, and is gone after a reload; a receiver that fails the first
// delivery shows in the delivery log as a failed attempt with its status
// and a next attempt scheduled.
func TestBrowserWebhooksShowTheSecretOnceAndTheDeliveryLog(t *testing.T) {
	ctx, errs, h := browserWithAdmin(t)
	provider := capacityInstalled(t, h)
	var calls atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer recv.Close()

	signInToUI(t, ctx, h)
	var secret string
	browse(t, ctx, "open the webhooks", openUI(h, "#/apps/capacity/webhooks"))
	if !step(t, ctx, "the form shows", chromedp.WaitVisible("#webhook-url", chromedp.ByQuery)) {
		var page string
		browse(t, ctx, "read the page", chromedp.Text("body", &page, chromedp.ByQuery))
		t.Fatalf("the page reads: %s", page)
	}
	browse(t, ctx, "create a webhook",
		setInput("#webhook-url", recv.URL+"/hook"), chromedp.Click(`//button[text()="Create webhook"]`))
	if !step(t, ctx, "see the secret", chromedp.WaitVisible("#webhook-secret-value", chromedp.ByQuery), chromedp.Text("#webhook-secret-value", &secret, chromedp.ByQuery)) {
		var page string
		browse(t, ctx, "read the page", chromedp.Text("main", &page, chromedp.ByQuery))
		t.Fatalf("no secret shown; the page reads: %s", page)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret shown: got %q, want a whsec_ secret", secret)
	}
	checkPage(t, ctx, "40-webhook-created")

	h.connectUser(provider, "ada")
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if calls.Load() == 0 {
		t.Fatal("the receiver was never called")
	}
	var row string
	browse(t, ctx, "see the delivery log after a reload", chromedp.Reload(), chromedp.WaitVisible(`//button[starts-with(., "Deliveries")]`),
		chromedp.Click(`//button[starts-with(., "Deliveries")]`), chromedp.WaitVisible("tr[data-delivery]", chromedp.ByQuery),
		chromedp.Text("tr[data-delivery]", &row, chromedp.ByQuery))
	if !strings.Contains(row, "connection.created") || !strings.Contains(row, "503") {
		t.Errorf("the delivery row: got %q, want connection.created answered 503", row)
	}
	var body string
	browse(t, ctx, "read the page", chromedp.Text("body", &body, chromedp.ByQuery))
	if strings.Contains(body, secret) {
		t.Error("the signing secret is still shown after a reload")
	}
	checkPage(t, ctx, "41-webhook-deliveries")
	for _, e := range errs() {
		t.Errorf("the page reported an error: %s", e)
	}
}
