package extract_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// A Slack user token sits under authed_user, and Slack reports failures with
// HTTP 200 and "ok": false (seed 003).
func ExampleRules_Extract() {
	rules := extract.DefaultRules()
	rules.AccessToken = extract.MustCompile("$.authed_user.access_token")
	rules.Success = extract.MustCompile("$.ok == true")
	rules.Metadata = map[string]*extract.Path{"slack_team_id": extract.MustCompile("$.team.id")}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	body := []byte(`{"ok":true,"authed_user":{"id":"U1234","access_token":"xoxp-1234","expires_in":43200},"team":{"id":"T9TK3CUKW"}}`)
	doc, err := extract.ParseResponse("application/json", body)
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := rules.Extract(context.Background(), 200, doc, now)
	fmt.Println(tok.AccessToken, tok.Metadata["slack_team_id"], err)

	doc, _ = extract.ParseResponse("application/json", []byte(`{"ok":false,"error":"invalid_code"}`))
	_, err = rules.Extract(context.Background(), 200, doc, now)
	var le *latchkey.Error
	if errors.As(err, &le) {
		fmt.Println(le.Code, le.Provider.Code)
	}
	// Output:
	// xoxp-1234 T9TK3CUKW <nil>
	// provider_error invalid_code
}

// Paths are compiled once and run over any answer; a filter that matches one
// entry yields that entry.
func ExamplePath_Lookup() {
	p := extract.MustCompile(`$.tokens[?(@.type == "user")].value`)
	doc, _ := extract.ParseResponse("application/json", []byte(`{"tokens":[{"type":"bot","value":"b-1"},{"type":"user","value":"u-1"}]}`))
	v, ok := p.Lookup(context.Background(), doc)
	fmt.Println(v, ok)
	// Output: u-1 true
}
