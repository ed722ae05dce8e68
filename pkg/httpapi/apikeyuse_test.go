package httpapi

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// When the writer of key uses does not keep up (its queue full), a use is
// not recorded and the key's next request tries again; the warning is
// logged once a minute, not on every request.
func TestKeyUsesFullQueueWarnsOncePerMinuteAndRetries(t *testing.T) {
	var logs bytes.Buffer
	u := &keyUses{logger: slog.New(slog.NewTextHandler(&logs, nil)), every: latchkey.APIKeyUseResolution,
		queued: map[string]time.Time{}, queue: make(chan keyUse)} // no writer: always full
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	key := latchkey.APIKey{ID: "k1", Env: latchkey.EnvDev}
	for i := range 5 {
		u.note(key, t0.Add(time.Duration(i)*time.Second))
	}
	if n := strings.Count(logs.String(), "do not keep up"); n != 1 {
		t.Fatalf("after 5 dropped uses in 5 s: got %d warnings, want 1:\n%s", n, logs.String())
	}
	if _, ok := u.queued["k1"]; ok {
		t.Fatal("a dropped use counts as queued: the key's next request would not try again")
	}
	u.note(key, t0.Add(time.Minute))
	if n := strings.Count(logs.String(), "do not keep up"); n != 2 || !strings.Contains(logs.String(), "uses=5") {
		t.Fatalf("a minute later: got %d warnings, want a second one counting the 5 uses dropped since:\n%s", n, logs.String())
	}

	// With room in the queue, a use is queued once, and not again within the minute.
	u.queue = make(chan keyUse, 4)
	u.note(key, t0.Add(2*time.Minute))
	u.note(key, t0.Add(2*time.Minute+30*time.Second))
	if len(u.queue) != 1 {
		t.Fatalf("two uses 30 s apart: got %d queued, want 1", len(u.queue))
	}
	// A use stored by another replica meanwhile counts as known.
	stored := t0.Add(3*time.Minute + 10*time.Second)
	u.note(latchkey.APIKey{ID: "k1", Env: latchkey.EnvDev, LastUsedAt: &stored}, t0.Add(3*time.Minute+30*time.Second))
	if len(u.queue) != 1 {
		t.Fatalf("a use 20 s after the stored one: got %d queued, want still 1", len(u.queue))
	}
}
