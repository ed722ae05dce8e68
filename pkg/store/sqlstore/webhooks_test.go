package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// TestWebhookSecretSealedAndRotated stores a webhook's signing secret: the
// column holds no plain text, and after a key rotation the secret reads
// with the new key alone.
func TestWebhookSecretSealedAndRotated(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	s, _ := openSQLite(t, newRing(t, oldKey))
	if _, err := s.PutApp(ctx, storetest.App("demo")); err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_never-in-plain-text"
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh_1", App: "demo", URL: "https://example.com/hook", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	var sealed string
	if err := s.DB().Raw("SELECT secret FROM webhooks WHERE id = 'wh_1'").Scan(&sealed).Error; err != nil {
		t.Fatal(err)
	}
	if sealed == "" || strings.Contains(sealed, "never-in-plain-text") {
		t.Fatalf("got the column %q, want the secret sealed", sealed)
	}
	s.SetKeyring(newRing(t, newKey, oldKey))
	if err := s.Rotate(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	s.SetKeyring(newRing(t, newKey))
	if w, err := s.GetWebhook(ctx, "demo", "wh_1"); err != nil || w.Secret != secret {
		t.Fatalf("after rotation, with the new key alone: got %v, want the secret", err)
	}
}
