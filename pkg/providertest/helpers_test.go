package providertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const callback = "https://latchkey.test/oauth/callback"

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// answer is a provider's answer, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		tb.Fatalf("answer is not JSON: %v: %s", err, a.body)
	}
	return m
}

func (a answer) form(tb testing.TB) url.Values {
	tb.Helper()
	v, err := url.ParseQuery(a.body)
	if err != nil {
		tb.Fatalf("answer is not form-encoded: %v: %s", err, a.body)
	}
	return v
}

// send makes a request with a plain net/http client.
func send(tb testing.TB, method, u string, body io.Reader, header map[string]string) answer {
	tb.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// postForm POSTs form to u; with basic, the client credentials go in an
// HTTP Basic header.
func postForm(tb testing.TB, p *Provider, u string, form url.Values, basic bool) answer {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(p.ClientID(), p.ClientSecret())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// code runs the authorize endpoint with params and returns the code.
func code(tb testing.TB, p *Provider, params url.Values) string {
	tb.Helper()
	loc := p.Authorize(tb, p.AuthorizeURL()+"?"+params.Encode())
	c := loc.Query().Get("code")
	if c == "" {
		tb.Fatalf("callback %s: got no code", loc)
	}
	return c
}

func authParams(p *Provider, extra ...string) url.Values {
	v := url.Values{"client_id": {p.ClientID()}, "redirect_uri": {callback}, "response_type": {"code"}, "state": {"st"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func wantEqual[T comparable](tb testing.TB, what string, got, want T) {
	tb.Helper()
	if got != want {
		tb.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func bearerGet(tb testing.TB, u, token string) answer {
	tb.Helper()
	return send(tb, http.MethodGet, u, nil, map[string]string{"Authorization": "Bearer " + token})
}
