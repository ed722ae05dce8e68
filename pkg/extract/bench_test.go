package extract

import (
	"context"
	"testing"
)

// BenchmarkParseAndExtract measures what one token answer costs the engine:
// parsing the body and running the compiled paths over it.
func BenchmarkParseAndExtract(b *testing.B) {
	for _, bc := range []struct {
		name, contentType, body string
		rules                   Rules
	}{
		{"Slingr JSON with default rules", "application/json",
			`{"access_token": "5HMxY4eBEK2xvmkATMCzSdJ0wTxMlSlF", "refresh_token": "ZqUeuPwAezCZWpDQqjCW", "token_type": "bearer", "expires_in": 28800, "scope": "scope1 scope2 scope3"}`,
			DefaultRules()},
		{"Slack nested token with filter metadata", "application/json", slackUserToken, slackRules()},
		{"GitHub form answer", "application/x-www-form-urlencoded",
			"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer", DefaultRules()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			body := []byte(bc.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				doc, err := ParseResponse(bc.contentType, body)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bc.rules.Extract(ctx, 200, doc, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
