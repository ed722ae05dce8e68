package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a writer another goroutine's command writes to while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var signInURL = regexp.MustCompile(`https?://\S+/dev/oauth/authorize\?\S+`)

// TestCLILoginApplyLogout: latchkey login signs the CLI in through the
// browser (PKCE, a loopback redirect); latchkey apply then works without
// an API key, refreshing the token when it expires; latchkey logout
// revokes it, and apply asks for a login again.
func TestCLILoginApplyLogout(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	h.expect(http.StatusOK, "PUT", "/api/v1/oauth/server", testAdminKey, "application/json", `{"enabled":true}`)
	t.Setenv("LATCHKEY_CONFIG_DIR", t.TempDir())
	t.Setenv("LATCHKEY_API_KEY", "")
	t.Setenv("LATCHKEY_ADMIN_API_KEY", "")
	server := h.main.URL

	var stderr, stdout lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"login", "--server", server, "--no-browser", "--timeout", "30s"}, &stdout, &stderr)
	}()
	var authURL string
	for deadline := time.Now().Add(10 * time.Second); authURL == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		authURL = signInURL.FindString(stderr.String())
	}
	if authURL == "" {
		t.Fatalf("latchkey login printed no sign-in URL: %q", stderr.String())
	}

	// The person's browser: the consent form names the CLI; Allow sends
	// the browser to the CLI's loopback listener.
	person := oauthPerson(t, h)
	u, _ := url.Parse(authURL)
	resp, page := person.send("GET", u.RequestURI(), nil, "", "")
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(page, "Latchkey CLI") {
		t.Fatalf("the CLI's consent form: HTTP %d %s", resp.StatusCode, page)
	}
	resp, _ = person.send("POST", u.RequestURI(), nil, "application/x-www-form-urlencoded", url.Values{"csrf_token": {html.UnescapeString(m[1])}, "consent": {"allow"}}.Encode())
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, "http://127.0.0.1:") {
		t.Fatalf("allowing sent the browser to %q, want the CLI's loopback listener", callback)
	}
	cb, err := http.Get(callback)
	if err != nil || cb.StatusCode != http.StatusOK {
		t.Fatalf("the CLI's listener: %v %v", cb, err)
	}
	cb.Body.Close()
	if err := <-done; err != nil {
		t.Fatalf("latchkey login: %v (%s)", err, stderr.String())
	}
	path := filepath.Join(os.Getenv("LATCHKEY_CONFIG_DIR"), "credentials.json")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the credentials file: %v %v, want mode 0600", fi, err)
	}

	// apply needs no API key now.
	doc := filepath.Join(t.TempDir(), "notes.yaml")
	if err := os.WriteFile(doc, []byte("name: notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apply := func() (error, string) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"apply", "--server", server, "-f", doc}, &out, &errOut)
		return err, out.String() + errOut.String()
	}
	if err, out := apply(); err != nil || !strings.Contains(out, `app "notes" created`) {
		t.Fatalf("apply after login: %v %s", err, out)
	}

	// An expired token is refreshed, and the rotated tokens are kept.
	readLogin := func() savedLogin {
		var cf credentialsFile
		b, _ := os.ReadFile(path)
		_ = json.Unmarshal(b, &cf)
		for _, l := range cf.Logins {
			return l
		}
		return savedLogin{}
	}
	before := readLogin()
	before.Expiry = time.Now().Add(-time.Minute)
	if err := writeCredentials(path, credentialsFile{Logins: map[string]savedLogin{loginKey(server, "dev"): before}}); err != nil {
		t.Fatal(err)
	}
	if err, out := apply(); err != nil || !strings.Contains(out, `app "notes"`) {
		t.Fatalf("apply with an expired token: %v %s", err, out)
	}
	after := readLogin()
	if after.RefreshToken == before.RefreshToken || after.AccessToken == before.AccessToken {
		t.Fatal("the refreshed tokens were not kept")
	}

	// logout revokes the grant and forgets it.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"logout", "--server", server}, &out, &out); err != nil {
		t.Fatalf("logout: %v %s", err, out.String())
	}
	h.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", after.AccessToken, "", "")
	if err, _ := apply(); err == nil || !strings.Contains(err.Error(), "latchkey login") {
		t.Fatalf("apply after logout: %v, want a request to sign in", err)
	}
}
