package httpapi

import (
	"fmt"
	"testing"
	"time"
)

// TestSignInThrottleMemoryIsBounded floods the throttle with failures from
// made-up emails and addresses, three times as many as it keeps: it keeps
// at most signInThrottleSize of each, and the bucket of the real account
// under attack is not evicted by the flood.
func TestSignInThrottleMemoryIsBounded(t *testing.T) {
	th := newSignInThrottle()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i := range SignInAccountThrottle.Burst {
		try, wait := th.take(now, fmt.Sprintf("198.51.100.%d", i), "ada@example.com", true)
		if wait != 0 {
			t.Fatalf("failure %d of the account: got a wait of %v, want none yet", i, wait)
		}
		try.failed()
	}
	for i := range 3 * signInThrottleSize {
		try, wait := th.take(now, fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), fmt.Sprintf("nobody-%d@example.com", i), false)
		if wait != 0 {
			t.Fatalf("made-up email %d: got a wait of %v, want none", i, wait)
		}
		try.failed()
	}
	if n := th.unknown.Len(); n > signInThrottleSize {
		t.Errorf("got %d buckets of made-up emails, want at most %d", n, signInThrottleSize)
	}
	if n := th.addrs.Len(); n > signInThrottleSize {
		t.Errorf("got %d buckets of addresses, want at most %d", n, signInThrottleSize)
	}
	if n := len(th.accounts); n != 1 {
		t.Errorf("got %d buckets of real accounts, want 1", n)
	}
	if _, wait := th.take(now, "203.0.113.1", "ada@example.com", true); wait <= 0 {
		t.Error("after the flood: the account under attack may sign in again at once, want it still throttled")
	}
}
