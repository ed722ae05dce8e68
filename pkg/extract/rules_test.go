package extract

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// answer is a provider's reply to a token request.
type answer struct {
	status      int
	contentType string
	body        string
}

// extract parses a and runs rules over it, as the flow engine does.
func extract(tb testing.TB, rules Rules, a answer) (Token, error) {
	tb.Helper()
	doc, err := ParseResponse(a.contentType, []byte(a.body))
	if err != nil {
		tb.Fatalf("ParseResponse: got error %v, want none", err)
	}
	return rules.Extract(context.Background(), a.status, doc, now)
}

// slackRules are the paths a Slack user-token config would set (seed 003).
func slackRules() Rules {
	r := DefaultRules()
	r.AccessToken = MustCompile("$.authed_user.access_token")
	r.RefreshToken = MustCompile("$.authed_user.refresh_token")
	r.ExpiresIn = MustCompile("$.authed_user.expires_in")
	r.Scope = MustCompile("$.authed_user.scope")
	r.TokenType = MustCompile("$.authed_user.token_type")
	r.Success = MustCompile("$.ok == true")
	r.Metadata = map[string]*Path{
		"slack_team_id":    MustCompile("$.team.id"),
		"slack_user_id":    MustCompile("$.authed_user.id"),
		"slack_team":       MustCompile("$.team"),
		"slack_bot_token":  MustCompile(`$.tokens[?(@.type == "bot")].value`),
		"slack_enterprise": MustCompile("$.enterprise.id"),
	}
	return r
}

const slackUserToken = `{
  "ok": true,
  "app_id": "A0KRD7HC3",
  "authed_user": {
    "id": "U1234",
    "scope": "chat:write,users:read",
    "access_token": "xoxp-1234567890-abcdef",
    "token_type": "user",
    "refresh_token": "xoxe-1-abcdefg",
    "expires_in": 43200
  },
  "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"},
  "enterprise": null,
  "is_enterprise_install": false,
  "tokens": [{"type": "bot", "value": "xoxb-42"}]
}`

func TestExtractSuccess(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules Rules
		in    answer
		want  Token
	}{
		{
			name:  "Slingr code exchange (seed 000)",
			rules: DefaultRules(),
			in: answer{200, "application/json", `{"access_token": "5HMxY4eBEK2xvmkATMCzSdJ0wTxMlSlF", "refresh_token": "ZqUeuPwAezCZWpDQqjCW",
				"token_type": "bearer", "expires_in": 28800, "scope": "scope1 scope2 scope3"}`},
			want: Token{AccessToken: "5HMxY4eBEK2xvmkATMCzSdJ0wTxMlSlF", RefreshToken: "ZqUeuPwAezCZWpDQqjCW", TokenType: "bearer",
				Scope: "scope1 scope2 scope3", ExpiresIn: 8 * time.Hour, ExpiresAt: now.Add(8 * time.Hour)},
		},
		{
			name:  "Slice code exchange (seed 001)",
			rules: DefaultRules(),
			in: answer{200, "application/json;charset=UTF-8", `{"access_token": "b0575a44c66b21a8a6d7eb3f925ec97a", "expires_in": 3600,
				"token_type": "bearer", "refresh_token": "32e09c4a6c91cfbfd52e57d2eec43568"}`},
			want: Token{AccessToken: "b0575a44c66b21a8a6d7eb3f925ec97a", RefreshToken: "32e09c4a6c91cfbfd52e57d2eec43568",
				TokenType: "bearer", ExpiresIn: time.Hour, ExpiresAt: now.Add(time.Hour)},
		},
		{
			name:  "Slack user token nested under authed_user, metadata by path and filter",
			rules: slackRules(),
			in:    answer{200, "application/json; charset=utf-8", slackUserToken},
			want: Token{AccessToken: "xoxp-1234567890-abcdef", RefreshToken: "xoxe-1-abcdefg", TokenType: "user",
				Scope: "chat:write,users:read", ExpiresIn: 12 * time.Hour, ExpiresAt: now.Add(12 * time.Hour),
				Metadata: map[string]string{"slack_team_id": "T9TK3CUKW", "slack_user_id": "U1234",
					"slack_team": `{"id":"T9TK3CUKW","name":"Slack Softball Team"}`, "slack_bot_token": "xoxb-42"}},
		},
		{
			name: "Slack bot token picked by a filter",
			rules: Rules{AccessToken: MustCompile(`$.tokens[?(@.type == "bot")].value`), Success: MustCompile("$.ok"),
				Error: MustCompile("$.error")},
			in:   answer{200, "application/json", slackUserToken},
			want: Token{AccessToken: "xoxb-42"},
		},
		{
			name:  "GitHub form-encoded success, no expiry",
			rules: DefaultRules(),
			in:    answer{200, "application/x-www-form-urlencoded; charset=utf-8", "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer"},
			want:  Token{AccessToken: "gho_16C7e42F292c6912E7710c838347Ae178B4a", Scope: "repo,gist", TokenType: "bearer"},
		},
		{
			name:  "text/plain query with expires_in",
			rules: DefaultRules(),
			in:    answer{200, "text/plain", "access_token=abc123&expires_in=5183999&token_type=bearer"},
			want:  Token{AccessToken: "abc123", TokenType: "bearer", ExpiresIn: 5183999 * time.Second, ExpiresAt: now.Add(5183999 * time.Second)},
		},
		{
			name:  "PayPal-style expires_in as a string",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"A21AAF","token_type":"Bearer","expires_in":"32400"}`},
			want:  Token{AccessToken: "A21AAF", TokenType: "Bearer", ExpiresIn: 9 * time.Hour, ExpiresAt: now.Add(9 * time.Hour)},
		},
		{
			name:  "expires_in null, empty string or zero means unknown",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","expires_in":null}`},
			want:  Token{AccessToken: "a"},
		},
		{
			name:  "expires_in empty string",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","expires_in":""}`},
			want:  Token{AccessToken: "a"},
		},
		{
			name:  "expires_in zero",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","expires_in":0}`},
			want:  Token{AccessToken: "a"},
		},
		{
			name:  "expires_in past 68 years is capped",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","expires_in":1e30}`},
			want:  Token{AccessToken: "a", ExpiresIn: maxSeconds * time.Second, ExpiresAt: now.Add(maxSeconds * time.Second)},
		},
		{
			name:  "expires_at in unix seconds, expires_in derived",
			rules: withExpiresAt(DefaultRules(), "$.expires_at"),
			in:    answer{200, "application/json", `{"access_token":"a","expires_at":1740834000}`},
			want:  Token{AccessToken: "a", ExpiresAt: time.Unix(1740834000, 0).UTC(), ExpiresIn: time.Unix(1740834000, 0).Sub(now)},
		},
		{
			name:  "expires_at as RFC 3339 wins over expires_in",
			rules: withExpiresAt(DefaultRules(), "$.expires_at"),
			in:    answer{200, "application/json", `{"access_token":"a","expires_in":60,"expires_at":"2025-03-01T13:00:00Z"}`},
			want:  Token{AccessToken: "a", ExpiresIn: time.Minute, ExpiresAt: now.Add(time.Hour)},
		},
		{
			name:  "expires_at as a numeric string in milliseconds",
			rules: withExpiresAt(DefaultRules(), "$.expires_at"),
			in:    answer{200, "application/json", `{"access_token":"a","expires_at":"1740834000000"}`},
			want:  Token{AccessToken: "a", ExpiresAt: time.Unix(1740834000, 0).UTC(), ExpiresIn: time.Unix(1740834000, 0).Sub(now)},
		},
		{
			name:  "scope sent as a list is joined with spaces (RFC 6749 §3.3)",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","scope":["openid","email"]}`},
			want:  Token{AccessToken: "a", Scope: "openid email"},
		},
		{
			name:  "OpenID Connect ID token",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","id_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig","token_type":"Bearer"}`},
			want:  Token{AccessToken: "a", IDToken: "eyJhbGciOiJSUzI1NiJ9.e30.sig", TokenType: "Bearer"},
		},
		{
			name:  "error field false or null is no error",
			rules: DefaultRules(),
			in:    answer{200, "application/json", `{"access_token":"a","error":false,"error_description":null}`},
			want:  Token{AccessToken: "a"},
		},
		{
			name:  "nil paths are skipped, a nil access token path is $.access_token",
			rules: Rules{},
			in:    answer{200, "application/json", `{"access_token":"a","refresh_token":"r","error":"ignored"}`},
			want:  Token{AccessToken: "a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := extract(t, tc.rules, tc.in)
			if err != nil {
				t.Fatalf("Extract: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Extract:\ngot  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func withExpiresAt(r Rules, expr string) Rules {
	r.ExpiresAt = MustCompile(expr)
	return r
}

func TestExtractWithoutClockLeavesExpiresAtUnknown(t *testing.T) {
	doc := mustParse(t, "application/json", `{"access_token":"a","expires_in":3600}`)
	r := DefaultRules()
	got, err := r.Extract(context.Background(), 200, doc, time.Time{})
	if err != nil {
		t.Fatalf("Extract: got error %v, want none", err)
	}
	if got.ExpiresIn != time.Hour || !got.ExpiresAt.IsZero() {
		t.Errorf("Extract: got ExpiresIn %v, ExpiresAt %v; want 1h and the zero time", got.ExpiresIn, got.ExpiresAt)
	}
}

func TestExtractProviderErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rules   Rules
		in      answer
		want    latchkey.ProviderError
		wantMsg string
	}{
		{
			name:    "Slack ok:false with HTTP 200 (seed 003)",
			rules:   slackRules(),
			in:      answer{200, "application/json; charset=utf-8", `{"ok":false,"error":"invalid_code","warning":"superfluous_charset"}`},
			want:    latchkey.ProviderError{Status: 200, Code: "invalid_code"},
			wantMsg: "the provider returned an error",
		},
		{
			name:    "Slack ok:false without an error field fails the success condition",
			rules:   slackRules(),
			in:      answer{200, "application/json", `{"ok":false,"access_token":"xoxp-should-not-be-used"}`},
			want:    latchkey.ProviderError{Status: 200},
			wantMsg: "does not meet the success condition $.ok == true",
		},
		{
			name:  "GitHub bad_verification_code, form-encoded with HTTP 200",
			rules: DefaultRules(),
			in: answer{200, "application/x-www-form-urlencoded; charset=utf-8",
				"error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com%2Fapps%2Foauth"},
			want: latchkey.ProviderError{Status: 200, Code: "bad_verification_code", Description: "The code passed is incorrect or expired.",
				URI: "https://docs.github.com/apps/oauth"},
			wantMsg: "the provider returned an error",
		},
		{
			name:    "RFC 6749 §5.2 invalid_grant with HTTP 400",
			rules:   DefaultRules(),
			in:      answer{400, "application/json", `{"error":"invalid_grant","error_description":"Refresh token has expired."}`},
			want:    latchkey.ProviderError{Status: 400, Code: "invalid_grant", Description: "Refresh token has expired."},
			wantMsg: "the provider returned an error",
		},
		{
			name:    "HTTP 500 without an error field lets the status speak",
			rules:   DefaultRules(),
			in:      answer{500, "application/json", `{"status":"fail"}`},
			want:    latchkey.ProviderError{Status: 500},
			wantMsg: "the provider answered HTTP 500",
		},
		{
			name:    "HTTP 401 with only a message",
			rules:   DefaultRules(),
			in:      answer{401, "application/json", `{"message":"Unauthorized. User login is required."}`},
			want:    latchkey.ProviderError{Status: 401, Description: "Unauthorized. User login is required."},
			wantMsg: "the provider answered HTTP 401",
		},
		{
			name:    "HTTP 400 holding an access token is still an error",
			rules:   DefaultRules(),
			in:      answer{400, "application/json", `{"access_token":"tok-in-error"}`},
			want:    latchkey.ProviderError{Status: 400},
			wantMsg: "the provider answered HTTP 400",
		},
		{
			name:  "Facebook-style error object",
			rules: DefaultRules(),
			in: answer{400, "application/json", `{"error":{"message":"Error validating verification code.","type":"OAuthException",
				"code":100,"fbtrace_id":"AbC"}}`},
			want:    latchkey.ProviderError{Status: 400, Code: "100", Description: "Error validating verification code."},
			wantMsg: "the provider returned an error",
		},
		{
			name: "custom error paths",
			rules: Rules{AccessToken: MustCompile("$.data.token"), Error: MustCompile("$.errors[0].code"),
				ErrorDescription: MustCompile("$.errors[0].detail")},
			in:      answer{200, "application/json", `{"data":null,"errors":[{"code":"E_EXPIRED","detail":"Authorization code has expired."}]}`},
			want:    latchkey.ProviderError{Status: 200, Code: "E_EXPIRED", Description: "Authorization code has expired."},
			wantMsg: "the provider returned an error",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := extract(t, tc.rules, tc.in)
			le := wantProviderError(t, err)
			if le.Provider == nil || *le.Provider != tc.want {
				t.Errorf("Provider: got %+v, want %+v", le.Provider, tc.want)
			}
			if !strings.Contains(le.Message, tc.wantMsg) {
				t.Errorf("Message: got %q, want it to contain %q", le.Message, tc.wantMsg)
			}
			if !reflect.DeepEqual(tok, Token{}) {
				t.Errorf("Token: got %+v, want the zero Token", tok)
			}
		})
	}
}

func wantProviderError(tb testing.TB, err error) *latchkey.Error {
	tb.Helper()
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EPROVIDER {
		tb.Fatalf("Extract: got error %v (%T), want a *latchkey.Error with code %s", err, err, latchkey.EPROVIDER)
	}
	return le
}

func TestExtractLongDescriptionIsClipped(t *testing.T) {
	body := `{"error":"server_error","error_description":"` + strings.Repeat("é", 2000) + `"}`
	_, err := extract(t, DefaultRules(), answer{503, "application/json", body})
	le := wantProviderError(t, err)
	if n := len(le.Provider.Description); n > maxDescription+len("…") {
		t.Errorf("Description: got %d bytes, want at most %d", n, maxDescription+len("…"))
	}
	if !strings.HasSuffix(le.Provider.Description, "é…") {
		t.Errorf("Description: got a tail of %q, want it cut on a rune boundary with …", le.Provider.Description[len(le.Provider.Description)-8:])
	}
}

func TestExtractBadAnswers(t *testing.T) {
	const secret = "s3cr3t-token-value"
	for _, tc := range []struct {
		name    string
		rules   Rules
		in      answer
		wantMsg []string
	}{
		{
			name:    "no access token names the path and the keys present",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"refresh_token":"` + secret + `","token_type":"bearer"}`},
			wantMsg: []string{"no access token at $.access_token", "keys present: refresh_token, token_type"},
		},
		{
			name:    "Slack user token under the default path points to where it is",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"ok":true,"authed_user":{"id":"U1","access_token":"` + secret + `"}}`},
			wantMsg: []string{"no access token at $.access_token", "keys present: authed_user, ok", "an access_token is at $.authed_user.access_token"},
		},
		{
			name:    "empty access token",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"access_token":"","refresh_token":"` + secret + `"}`},
			wantMsg: []string{"no access token at $.access_token"},
		},
		{
			name:    "empty answer object",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{}`},
			wantMsg: []string{"keys present: none"},
		},
		{
			name:    "keys that do not look like names are counted, not shown",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"token_type":"bearer","` + secret + ` x":1,"a b":2}`},
			wantMsg: []string{"keys present: token_type and 2 others"},
		},
		{
			name:    "access token path pointing at an object",
			rules:   Rules{AccessToken: MustCompile("$.authed_user")},
			in:      answer{200, "application/json", `{"authed_user":{"access_token":"` + secret + `"}}`},
			wantMsg: []string{"access token at $.authed_user is an object"},
		},
		{
			name:    "access token path matching several values",
			rules:   Rules{AccessToken: MustCompile("$..access_token")},
			in:      answer{200, "application/json", `{"access_token":"` + secret + `","authed_user":{"access_token":"` + secret + `2"}}`},
			wantMsg: []string{"access token at $..access_token is a list of several values"},
		},
		{
			name:    "expires_in garbage",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"access_token":"` + secret + `","expires_in":"soon"}`},
			wantMsg: []string{"expires_in at $.expires_in is not a number of seconds"},
		},
		{
			name:    "expires_in negative",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"access_token":"` + secret + `","expires_in":-5}`},
			wantMsg: []string{"expires_in at $.expires_in is negative"},
		},
		{
			name:    "expires_in an object",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"access_token":"` + secret + `","expires_in":{"s":1}}`},
			wantMsg: []string{"expires_in at $.expires_in is not a number of seconds"},
		},
		{
			name:    "expires_in path misconfigured onto the token",
			rules:   Rules{ExpiresIn: MustCompile("$.access_token")},
			in:      answer{200, "application/json", `{"access_token":"` + secret + `"}`},
			wantMsg: []string{"expires_in at $.access_token is not a number of seconds"},
		},
		{
			name:    "expires_at garbage",
			rules:   withExpiresAt(DefaultRules(), "$.expires_at"),
			in:      answer{200, "application/json", `{"access_token":"` + secret + `","expires_at":"tomorrow"}`},
			wantMsg: []string{"expires_at at $.expires_at is neither unix seconds nor an RFC 3339 time"},
		},
		{
			name:    "refresh token as a bool",
			rules:   DefaultRules(),
			in:      answer{200, "application/json", `{"access_token":"` + secret + `","refresh_token":true}`},
			wantMsg: []string{"refresh token at $.refresh_token is a bool"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extract(t, tc.rules, tc.in)
			le := wantProviderError(t, err)
			for _, w := range tc.wantMsg {
				if !strings.Contains(le.Message, w) {
					t.Errorf("Message: got %q, want it to contain %q", le.Message, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error: got %q, want no token value", err)
			}
		})
	}
}

// The flow engine passes a nil document when an error answer did not parse.
func TestExtractNilDocument(t *testing.T) {
	r := DefaultRules()
	_, err := r.Extract(context.Background(), 502, nil, now)
	le := wantProviderError(t, err)
	if le.Provider == nil || le.Provider.Status != 502 {
		t.Errorf("Provider: got %+v, want Status 502", le.Provider)
	}
	_, err = r.Extract(context.Background(), 200, nil, now)
	le = wantProviderError(t, err)
	if !strings.Contains(le.Message, "keys present: none") {
		t.Errorf("Message: got %q, want it to say no keys are present", le.Message)
	}
}

// A value that cannot be stored (a NUL, invalid UTF-8) is an EPROVIDER error
// naming the value and its path, never the value; a provider's error text
// holding one is kept printable.
func TestExtractRefusesValuesThatCannotBeStored(t *testing.T) {
	rules := DefaultRules()
	rules.Metadata = map[string]*Path{"team_id": MustCompile("$.team.id")}
	for _, tc := range []struct {
		a    answer
		want string
	}{
		{answer{200, "application/json", `{"access_token":"at","scope":"a\u0000b"}`}, "scope at $.scope holds a NUL"},
		{answer{200, "application/json", `{"access_token":"at","token_type":"\u0000"}`}, "token type at $.token_type holds a NUL"},
		{answer{200, "application/json", `{"access_token":"a\u0000t"}`}, "access token at $.access_token holds a NUL"},
		{answer{200, "application/json", `{"access_token":"at","scope":["a","b\u0000"]}`}, "scope at $.scope holds a NUL"},
		{answer{200, "application/json", `{"access_token":"at","team":{"id":"T\u0000"}}`}, "metadata team_id at $.team.id holds a NUL"},
		{answer{200, "text/plain", "access_token=at&refresh_token=%FF"}, "refresh token at $.refresh_token is not valid UTF-8"},
		{answer{200, "application/x-www-form-urlencoded", "access_token=at&id_token=x%00"}, "ID token at $.id_token holds a NUL"},
	} {
		_, err := extract(t, rules, tc.a)
		var le *latchkey.Error
		if !errors.As(err, &le) || le.Code != latchkey.EPROVIDER || !strings.Contains(le.Message, tc.want) {
			t.Errorf("%s: got %v, want an EPROVIDER error with %q", tc.a.body, err, tc.want)
		}
	}
	_, err := extract(t, rules, answer{400, "application/json", `{"error":"bad\u0000","error_description":"x\u0000y` + "\xff" + `"}`})
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Provider == nil || le.Provider.Code != "bad\uFFFD" || le.Provider.Description != "x\uFFFDy\uFFFD" {
		t.Fatalf("provider error with a NUL: got %+v, want its text with U+FFFD", err)
	}
}
