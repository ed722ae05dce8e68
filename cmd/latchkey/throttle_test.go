package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// signIn posts a sign-in from the harness's client, with X-Forwarded-For
// when forwardedFor is not empty, and returns the status and Retry-After.
func signIn(h *harness, email, password, forwardedFor string) (int, string) {
	h.tb.Helper()
	req, err := http.NewRequest("POST", h.main.URL+"/api/v1/session", strings.NewReader(fmt.Sprintf(`{"email": %q, "password": %q}`, email, password)))
	if err != nil {
		h.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// waitForAudit polls the audit log until done says it holds what is
// awaited, for at most 5 s (failed sign-ins are written in batches), and
// returns it.
func waitForAudit(h *harness, query string, done func(audit string) bool) string {
	h.tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := string(h.expect(http.StatusOK, "GET", "/api/v1/audit?"+query, testAdminKey, "", ""))
		if done(body) || time.Now().After(deadline) {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSignInThrottlesGuessesOfOneAccount guesses an admin's password: after
// five wrong ones every sign-in of the account, even with the right
// password, is answered 429 with a Retry-After that doubles with each
// further failure; once it has passed the right password works; each
// failure is in the audit log.
func TestSignInThrottlesGuessesOfOneAccount(t *testing.T) {
	eachDatabase(t, func(t *testing.T, databaseURL string) {
		h := startLatchkeyWith(t, databaseURL, nil)
		addAdmin(t, h)
		for i := range 5 {
			if got, _ := signIn(h, testAdminEmail, fmt.Sprintf("wrong password %d", i), ""); got != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: got HTTP %d, want 401", i, got)
			}
		}
		if got, retry := signIn(h, testAdminEmail, testAdminPassword, ""); got != http.StatusTooManyRequests || retry != "1" {
			t.Fatalf("the right password after 5 wrong ones: got HTTP %d Retry-After %q, want 429 and 1", got, retry)
		}
		// Each further failure doubles the wait; the clock is the server's.
		wait := time.Second
		for _, want := range []string{"2", "4", "8"} {
			h.clock.Advance(wait)
			if got, _ := signIn(h, "ADA@example.com", "another wrong one", ""); got != http.StatusUnauthorized {
				t.Fatalf("a guess after waiting %v: got HTTP %d, want 401", wait, got)
			}
			got, retry := signIn(h, testAdminEmail, testAdminPassword, "")
			if got != http.StatusTooManyRequests || retry != want {
				t.Fatalf("right after that guess: got HTTP %d Retry-After %q, want 429 and %s", got, retry, want)
			}
			wait *= 2
		}
		h.clock.Advance(wait)
		if got, _ := signIn(h, testAdminEmail, testAdminPassword, ""); got != http.StatusCreated {
			t.Fatalf("the right password once the wait passed: got HTTP %d, want 201", got)
		}
		// A success forgets the account's failures.
		for i := range 5 {
			if got, _ := signIn(h, testAdminEmail, "wrong again", ""); got != http.StatusUnauthorized {
				t.Fatalf("wrong password %d after a success: got HTTP %d, want 401", i, got)
			}
		}

		audit := waitForAudit(h, "action=session.fail&limit=1000", func(a string) bool { return strings.Count(a, `"action":"session.fail"`) >= 13 })
		if n := strings.Count(audit, `"action":"session.fail"`); n != 13 {
			t.Errorf("got %d failed sign-ins in the audit log, want 13 (the 429s are not failures):\n%s", n, audit)
		}
		for _, want := range []string{`email \"ada@example.com\" from 127.0.0.1: wrong password`, `\"ADA@example.com\"`} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit log lacks %s:\n%s", want, audit)
			}
		}
		if strings.Contains(audit, "wrong password 1") || strings.Contains(audit, testAdminPassword) {
			t.Error("the audit log holds a password")
		}
	})
}

// TestSignInThrottlesOneAddress tries many made-up emails from one client:
// after twenty failures the address is throttled, even for a real admin's
// right password, and an X-Forwarded-For header does not get around it. A
// server told to trust the proxy in front of it throttles the address the
// proxy names instead.
func TestSignInThrottlesOneAddress(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	for i := range 20 {
		if got, _ := signIn(h, fmt.Sprintf("nobody-%d@example.com", i), "a guessed password", ""); got != http.StatusUnauthorized {
			t.Fatalf("made-up email %d: got HTTP %d, want 401", i, got)
		}
	}
	if got, retry := signIn(h, testAdminEmail, testAdminPassword, ""); got != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("from the throttled address: got HTTP %d Retry-After %q, want 429 with Retry-After", got, retry)
	}
	if got, _ := signIn(h, testAdminEmail, testAdminPassword, "203.0.113.9"); got != http.StatusTooManyRequests {
		t.Fatalf("the throttled address claiming another through X-Forwarded-For: got HTTP %d, want 429", got)
	}

	proxied := startLatchkeyWith(t, "", func(c *Config) { c.TrustedProxies = "127.0.0.1/32, ::1" })
	addAdmin(t, proxied)
	for i := range 20 {
		if got, _ := signIn(proxied, fmt.Sprintf("nobody-%d@example.com", i), "a guessed password", "203.0.113.7"); got != http.StatusUnauthorized {
			t.Fatalf("made-up email %d through the proxy: got HTTP %d, want 401", i, got)
		}
	}
	if got, _ := signIn(proxied, testAdminEmail, testAdminPassword, "203.0.113.7"); got != http.StatusTooManyRequests {
		t.Fatalf("the throttled client behind the proxy: got HTTP %d, want 429", got)
	}
	if got, _ := signIn(proxied, testAdminEmail, testAdminPassword, "198.51.100.4"); got != http.StatusCreated {
		t.Fatalf("another client behind the proxy: got HTTP %d, want 201", got)
	}
	if audit := waitForAudit(proxied, "action=session.fail", func(a string) bool { return strings.Count(a, "from 203.0.113.7") >= 20 }); !strings.Contains(audit, "from 203.0.113.7: no such account") {
		t.Errorf("the audit log lacks the client address the proxy named:\n%s", audit)
	}
}
