package extract

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// formatReason matches every reason ParseResponse may give: fixed words and
// numbers only, so that no byte of the body can reach an error message.
var formatReason = regexp.MustCompile(`^(an empty answer|a JSON (list|string|bool|null|number), not an object|not valid JSON` +
	`( \(syntax error at byte \d+\)| \(more after the object\))?|truncated JSON|an (HTML page|XML document), not a token response|` +
	`neither a JSON object nor a query string)$`)

// FuzzParseResponse checks that ParseResponse never panics, that a success
// is a JSON object that marshals again, and that a failure is a *FormatError
// whose reason is one of the fixed texts.
func FuzzParseResponse(f *testing.F) {
	f.Add("application/json", []byte(`{"access_token":"a","expires_in":3600}`))
	f.Add("application/x-www-form-urlencoded", []byte("access_token=a&scope=repo%2Cgist"))
	f.Add("text/html", []byte("<html>502</html>"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		doc, err := ParseResponse(contentType, body)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseResponse: got %T %v, want a *FormatError", err, err)
			}
			if !formatReason.MatchString(fe.Reason) {
				t.Fatalf("FormatError.Reason: got %q, want one of the fixed reasons", fe.Reason)
			}
			if fe.Size != len(body) {
				t.Fatalf("FormatError.Size: got %d, want %d", fe.Size, len(body))
			}
			return
		}
		if doc == nil {
			t.Fatalf("ParseResponse: got a nil object and no error, want an object")
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatalf("json.Marshal(ParseResponse(...)): got error %v, want none", err)
		}
	})
}

// FuzzExtract runs the default rules and a Slack-style set over any answer
// and checks that Extract never panics, that it fails only with an
// EPROVIDER *latchkey.Error, that a success has an access token, and that no
// error message quotes a token the answer held (unless the provider itself
// repeated it in its error words, which are shown by design).
func FuzzExtract(f *testing.F) {
	f.Add("application/json", []byte(slackUserToken), 200)
	f.Add("application/json", []byte(`{"ok":false,"error":"invalid_code"}`), 200)
	f.Add("application/json", []byte(`{"error":"invalid_grant"}`), 400)
	rulesets := []Rules{DefaultRules(), slackRules(), withExpiresAt(DefaultRules(), "$.expires_at")}
	f.Fuzz(func(t *testing.T, contentType string, body []byte, status int) {
		doc, err := ParseResponse(contentType, body)
		if err != nil {
			doc = nil // the engine still asks for the provider's error
		}
		for _, r := range rulesets {
			tok, err := r.Extract(context.Background(), status, doc, now)
			if err == nil {
				if tok.AccessToken == "" {
					t.Fatalf("Extract: got an empty access token and no error")
				}
				continue
			}
			var le *latchkey.Error
			if !errors.As(err, &le) || le.Code != latchkey.EPROVIDER {
				t.Fatalf("Extract: got %T %v, want a *latchkey.Error with code %s", err, err, latchkey.EPROVIDER)
			}
			for _, secret := range secretsIn(doc) {
				if strings.Contains(err.Error(), secret) && !shownByDesign(doc, r, secret) {
					t.Fatalf("Extract error %q quotes the token %q", err, secret)
				}
			}
		}
	})
}

// secretsIn returns the token-looking values of doc: strings of 8 or more
// characters, with a letter and a digit and no space, under keys that name
// tokens.
func secretsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && strings.Contains(k, "token") && looksSecret(s) {
				out = append(out, s)
			}
			out = append(out, secretsIn(e)...)
		}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && looksSecret(s) {
				out = append(out, s)
			}
			out = append(out, secretsIn(e)...)
		}
	}
	return out
}

func looksSecret(s string) bool {
	return len(s) >= 8 && strings.IndexFunc(s, unicode.IsLetter) >= 0 && strings.IndexFunc(s, unicode.IsDigit) >= 0 &&
		strings.IndexFunc(s, unicode.IsSpace) < 0
}

// shownByDesign reports whether s also appears where error messages may
// quote the answer: in a key name, in the provider's own error words, or in
// a configured path.
func shownByDesign(v any, r Rules, s string) bool {
	for _, p := range []*Path{r.AccessToken, r.RefreshToken, r.ExpiresIn, r.ExpiresAt, r.Success} {
		if p != nil && strings.Contains(p.String(), s) {
			return true
		}
	}
	var walk func(v any, top bool) bool
	walk = func(v any, top bool) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.Contains(k, s) {
					return true
				}
				if top && (k == "error" || k == "error_description" || k == "message" || k == "error_uri") {
					b, _ := json.Marshal(e)
					if strings.Contains(string(b), s) || strings.Contains(format(e), s) {
						return true
					}
				}
				if walk(e, false) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e, false) {
					return true
				}
			}
		}
		return false
	}
	return walk(v, true)
}
