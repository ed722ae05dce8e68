package extract

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// slackAccess is a Slack oauth.v2.access answer (seed 003) with the user's
// token nested under authed_user, plus a list to run filters over.
const slackAccess = `{
  "ok": true,
  "app_id": "A0KRD7HC3",
  "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user"},
  "scope": "commands,incoming-webhook",
  "token_type": "bot",
  "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
  "bot_user_id": "U0KRQLJ9H",
  "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
  "enterprise": null,
  "is_enterprise_install": false,
  "tokens": [{"type": "bot", "value": "xoxb-1"}, {"type": "user", "value": "xoxp-1"}],
  "expires_in": 43200,
  "created": 1740834000,
  "big_id": 1234567890123456789
}`

func mustParse(tb testing.TB, contentType, body string) map[string]any {
	tb.Helper()
	doc, err := ParseResponse(contentType, []byte(body))
	if err != nil {
		tb.Fatalf("ParseResponse(%q): got error %v, want none", contentType, err)
	}
	return doc
}

func TestPathLookup(t *testing.T) {
	doc := mustParse(t, "application/json; charset=utf-8", slackAccess)
	for _, tc := range []struct {
		name, expr string
		want       string
		wantOK     bool
	}{
		{"top-level string", "$.access_token", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", true},
		{"bare name reads like $.name", "access_token", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", true},
		{"nested user token", "$.authed_user.access_token", "xoxp-1234", true},
		{"bracket notation", `$["authed_user"]["id"]`, "U1234", true},
		{"filter with one match yields the element", `$.tokens[?(@.type == "user")].value`, "xoxp-1", true},
		{"filter with no match is missing", `$.tokens[?(@.type == "admin")].value`, "", false},
		{"wildcard with two matches is a JSON list", `$.tokens[*].type`, `["bot","user"]`, true},
		{"number without exponent", "$.expires_in", "43200", true},
		{"unix time without exponent", "$.created", "1740834000", true},
		{"large integer keeps its digits", "$.big_id", "1234567890123456789", true},
		{"bool", "$.is_enterprise_install", "false", true},
		{"object as compact JSON", "$.team", `{"id":"T9TK3CUKW","name":"Slack Softball Team"}`, true},
		{"null is missing", "$.enterprise", "", false},
		{"missing key", "$.refresh_token", "", false},
		{"missing nested key", "$.authed_user.refresh_token", "", false},
		{"select inside null", "$.enterprise.id", "", false},
		{"index out of range", "$.tokens[5].value", "", false},
		{"arithmetic", "$.expires_in * 2", "86400", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MustCompile(tc.expr).Lookup(context.Background(), doc)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Lookup(%s): got (%q, %v), want (%q, %v)", tc.expr, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPathTrue(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, body, expr string
		want             bool
	}{
		{"Slack ok true", `{"ok":true}`, "$.ok", true},
		{"Slack ok false", `{"ok":false,"error":"invalid_code"}`, "$.ok", false},
		{"comparison holds", `{"ok":true}`, "$.ok == true", true},
		{"comparison fails", `{"ok":false}`, "$.ok == true", false},
		{"missing key", `{"error":"invalid_code"}`, "$.ok", false},
		{"string status", `{"status":"success"}`, `$.status == "success"`, true},
		{"non-empty string", `{"status":"success"}`, "$.status", true},
		{"string false", `{"ok":"false"}`, "$.ok", false},
		{"string FALSE", `{"ok":"FALSE"}`, "$.ok", false},
		{"number zero", `{"ok":0}`, "$.ok", false},
		{"number one", `{"ok":1}`, "$.ok", true},
		{"empty string", `{"ok":""}`, "$.ok", false},
		{"null", `{"ok":null}`, "$.ok", false},
		{"filter with a match", `{"tokens":[{"type":"user"}]}`, `$.tokens[?(@.type == "user")].type`, true},
		{"filter without a match", `{"tokens":[{"type":"bot"}]}`, `$.tokens[?(@.type == "user")].type`, false},
		{"logic over two keys", `{"ok":true,"access_token":"x"}`, `$.ok && $.access_token != ""`, true},
		{"form value", "ok=true", "$.ok", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustParse(t, "", tc.body)
			if got := MustCompile(tc.expr).True(ctx, doc); got != tc.want {
				t.Errorf("True(%s) on %s: got %v, want %v", tc.expr, tc.body, got, tc.want)
			}
		})
	}
}

func TestCompileRejectsBadPaths(t *testing.T) {
	for _, expr := range []string{"", "   ", "$[", "$.tokens[?(@.type == ]", "$.a ==", "(((", "$['authed_user']['id']"} {
		p, err := Compile(expr)
		if err == nil {
			t.Errorf("Compile(%q): got %v, want an error", expr, p)
			continue
		}
		if !strings.HasPrefix(err.Error(), "extract: ") {
			t.Errorf("Compile(%q): got error %q, want it to start with \"extract: \"", expr, err)
		}
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("MustCompile(\"$[\"): got no panic, want one")
		}
	}()
	MustCompile("$[")
}

func TestPathString(t *testing.T) {
	const expr = `$.tokens[?(@.type == "user")].value`
	if got := MustCompile(expr).String(); got != expr {
		t.Errorf("String: got %q, want %q", got, expr)
	}
}

// A path that reads a value as a key must not quote that value in Eval's
// error: the value may be a token.
func TestEvalErrorHoldsNoValue(t *testing.T) {
	doc := mustParse(t, "application/json", `{"access_token":"s3cr3t-token-value"}`)
	p := MustCompile("$[$.access_token]")
	_, err := p.Eval(context.Background(), doc)
	if err == nil {
		t.Fatalf("Eval(%s): got no error, want one", p)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Eval error: got %q, want no token value", err)
	}
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Path != p.String() {
		t.Errorf("Eval error: got %#v, want an *EvalError for %s", err, p)
	}
}
