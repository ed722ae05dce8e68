package catalog_test

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// The fake provider of TestEveryEntry enforces what an entry declares: a
// flow that does otherwise is refused, and an entry that declares what the
// fake cannot check is refused before it runs.
func TestFakeEnforcesDeclaredQuirks(t *testing.T) {
	const doc = "name: q\nlabel: Q\ncatalog: {category: other, docs_url: https://q.example/docs}\noauth_configs:\n" +
		"  - {name: q, link_url: https://q.example/authorize, token_url: https://q.example/token, scopes: [a, b]}\n"
	base, err := catalog.Load(fstestFS("q.yaml", doc))
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := base.Get("q")
	h := newHarness(t)
	for _, tc := range []struct {
		name     string
		declared func(c *latchkey.OAuthConfig) // what the fake is built from
		sent     func(c *latchkey.OAuthConfig) // what the engine runs
		want     string                        // in the fake's problem, or the callback's error
	}{
		{"basic declared, body sent", func(c *latchkey.OAuthConfig) { c.ClientAuth = latchkey.ClientAuthBasic }, nil, "says basic"},
		{"body declared, basic sent", nil, func(c *latchkey.OAuthConfig) { c.ClientAuth = latchkey.ClientAuthBasic }, "HTTP Basic header"},
		{"json declared, form sent", func(c *latchkey.OAuthConfig) { c.RequestEncoding = latchkey.EncodingJSON }, nil, "says json"},
		{"query declared, form sent", func(c *latchkey.OAuthConfig) { c.RequestEncoding = latchkey.EncodingQuery }, nil, "says query"},
		{"comma scopes declared, spaces sent", func(c *latchkey.OAuthConfig) { c.ScopeSeparator = "," }, nil, `scope: got "a b", want "a,b"`},
		{"no PKCE declared, PKCE sent", func(c *latchkey.OAuthConfig) { off := false; c.PKCE = &off }, nil, "turns PKCE off"},
		{"a nested token, read at the top", func(c *latchkey.OAuthConfig) { c.ExtractionPathAccessToken = "$.data.token" }, nil, "$.access_token"},
		{"a header declared, none sent", func(c *latchkey.OAuthConfig) { c.TokenHeaders = map[string]string{"Accept": "application/json"} }, nil, "header Accept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			declared := entry.App
			declared.OAuthConfigs = []latchkey.OAuthConfig{entry.App.OAuthConfigs[0]}
			if tc.declared != nil {
				tc.declared(&declared.OAuthConfigs[0])
			}
			vals := sampleValues(declared)
			fake, err := providertest.NewDeclared(t, &declared, declared.OAuthConfigs[0], providertest.DeclaredOptions{Values: vals, Now: h.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			sent := declared
			sent.Name = "q-" + strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(tc.name), " ", "-"), ",", "")
			sent.OAuthConfigs = []latchkey.OAuthConfig{entry.App.OAuthConfigs[0]}
			if tc.sent != nil {
				tc.sent(&sent.OAuthConfigs[0])
			}
			c := &sent.OAuthConfigs[0]
			c.LinkURL, c.TokenURL = fake.Rewrite(c.LinkURL), fake.Rewrite(c.TokenURL)
			if _, err := h.engine.SaveApp(h.ctx, sent); err != nil {
				t.Fatal(err)
			}
			if _, err := h.store.PutInstallation(h.ctx, latchkey.Installation{App: sent.Name, Org: "acme", Values: vals}); err != nil {
				t.Fatal(err)
			}
			key := latchkey.ConnectionKey{App: sent.Name, Org: "acme", User: "u", Config: c.Name}
			auth := authorize(t, h, key)
			var got string
			if cb, ok := tryFollow(auth.String()); ok {
				_, err = h.callback(cb)
				if err == nil {
					t.Fatal("the flow succeeded; want the fake to refuse it")
				}
				got = err.Error()
			}
			got += strings.Join(fake.Problems(), "; ")
			if !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want it to say %q", got, tc.want)
			}
		})
	}

	// Quirks the fake cannot answer are refused up front.
	c := entry.App.OAuthConfigs[0]
	c.ExtractionPathAccessToken = `$.tokens[?(@.type=="user")].value`
	if _, err := providertest.NewDeclared(t, &entry.App, c, providertest.DeclaredOptions{}); err == nil || !strings.Contains(err.Error(), "cannot answer") {
		t.Fatalf("a filter path: got %v, want the fake to refuse it", err)
	}
}
