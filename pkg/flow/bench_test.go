package flow

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// The benchmarks below put the engine's code exchange and refresh beside
// golang.org/x/oauth2's Config.Exchange and a refreshing TokenSource, against
// the same local fake provider in the same run, so that BENCHMARKS.md can
// give their ratio. Both sides do the same work per operation: build the
// request, POST it over loopback, parse and extract the answer. The
// provider's authorization step (minting the code) runs outside the timer
// for both.

func benchProvider(b *testing.B) (*providertest.Provider, *compiledConfig, *Engine) {
	p := providertest.New(b, providertest.Options{AccessTTL: time.Hour, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	app, err := latchkey.ParseApp([]byte(fmt.Sprintf(`
name: bench
settings:
  - {name: client_id, level: org}
  - {name: client_secret, level: org, secret: true}
  - {name: access_token, level: user, secret: true}
  - {name: refresh_token, level: user, secret: true}
oauth_configs:
  - name: p
    link_url: "%[1]s/oauth/authorize?client_id={{client_id}}&redirect_uri={{redirect_uri}}"
    token_url: "%[1]s/oauth/token"
    pkce: false
    access_token_variable_name: access_token
    refresh_token_variable_name: refresh_token
`, p.BaseURL())))
	if err != nil {
		b.Fatal(err)
	}
	c, err := Compile(app)
	if err != nil {
		b.Fatal(err)
	}
	e := New(Config{HTTPClient: http.DefaultClient, CallbackURL: "http://127.0.0.1/cb"})
	return p, c.configs["p"], e
}

func mintCode(b *testing.B, p *providertest.Provider) string {
	loc := p.Authorize(b, p.AuthorizeURL()+"?response_type=code&client_id="+p.ClientID()+"&redirect_uri=http://127.0.0.1/cb&state=s")
	return loc.Query().Get("code")
}

func BenchmarkExchange(b *testing.B) {
	ctx := context.Background()
	b.Run("latchkey", func(b *testing.B) {
		p, cc, e := benchProvider(b)
		vals := map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret(), "redirect_uri": "http://127.0.0.1/cb"}
		for b.Loop() {
			b.StopTimer()
			vals["auth_code"] = mintCode(b, p)
			b.StartTimer()
			if _, err := e.send(ctx, cc, tokenRequest{url: cc.tokenURL, urlField: "token_url", body: cc.body, field: "request_body", expect: true}, vals); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("x-oauth2", func(b *testing.B) {
		p, _, _ := benchProvider(b)
		cfg := p.OAuth2Config("http://127.0.0.1/cb")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		ctx := context.WithValue(ctx, oauth2.HTTPClient, http.DefaultClient)
		for b.Loop() {
			b.StopTimer()
			code := mintCode(b, p)
			b.StartTimer()
			if _, err := cfg.Exchange(ctx, code); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRefresh(b *testing.B) {
	ctx := context.Background()
	b.Run("latchkey", func(b *testing.B) {
		p, cc, e := benchProvider(b)
		vals := map[string]string{"client_id": p.ClientID(), "client_secret": p.ClientSecret(), "redirect_uri": "http://127.0.0.1/cb",
			"auth_code": mintCode(b, p)}
		tok, err := e.send(ctx, cc, tokenRequest{url: cc.tokenURL, urlField: "token_url", body: cc.body, field: "request_body", expect: true}, vals)
		if err != nil {
			b.Fatal(err)
		}
		vals["refresh_token"] = tok.RefreshToken
		for b.Loop() {
			if _, err := e.send(ctx, cc, tokenRequest{url: cc.refreshURL, urlField: "refresh_token_url", body: cc.refreshBody, field: "refresh_token_body", expect: true}, vals); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("x-oauth2", func(b *testing.B) {
		p, _, _ := benchProvider(b)
		cfg := p.OAuth2Config("http://127.0.0.1/cb")
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		ctx := context.WithValue(ctx, oauth2.HTTPClient, http.DefaultClient)
		tok, err := cfg.Exchange(ctx, mintCode(b, p))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			// An expired token makes the TokenSource refresh on every Token().
			expired := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
			if _, err := cfg.TokenSource(ctx, expired).Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
