package trace

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzMaskingLeavesNoSecret: whatever a body, a URL or a header holds, a
// known secret of four bytes or more is not in what the masker keeps,
// neither as it is nor as a URL or a form encodes it.
func FuzzMaskingLeavesNoSecret(f *testing.F) {
	f.Add("s3cr3t-value", "application/json", `{"a": "s3cr3t-value", "n": {"token": "x"}}`, "https://p.example/cb?code=s3cr3t-value&x=1")
	f.Add("a b+c/d", "application/x-www-form-urlencoded", "q=a+b%2Bc%2Fd&other=1", "https://p.example/a%20b+c/d?k=a b+c/d")
	f.Add("tok_123", "text/plain", "the token is tok_123.", "http://h/tok_123")
	f.Fuzz(func(t *testing.T, secret, contentType, body, rawURL string) {
		if len(secret) < minSecret || strings.ContainsAny(secret, "•") {
			return // shorter values are not masked; the mask's own bytes would be found in it
		}
		m := newMasker([]string{secret})
		forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
		for what, got := range map[string]string{
			"body":   m.body(parseBody(contentType, []byte(body))),
			"url":    m.url(parseURL(rawURL)),
			"text":   m.text(body),
			"header": m.headers(map[string][]string{"X-Echo": {body}})["X-Echo"],
		} {
			for _, f := range forms {
				if strings.Contains(got, f) {
					t.Fatalf("the masked %s holds the secret %q (as %q): %q", what, secret, f, got)
				}
			}
		}
	})
}
