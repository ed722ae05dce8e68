package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Each failure kind strikes the next token request only, and the request
// after it succeeds.
func TestFailNextKinds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     Failure
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{"status 500", FailStatus(500), func(t *testing.T, resp *http.Response, _ []byte, err error) {
			wantEqual(t, "status", resp.StatusCode, 500)
		}},
		{"429 with Retry-After", FailRateLimited(1500 * time.Millisecond), func(t *testing.T, resp *http.Response, _ []byte, err error) {
			wantEqual(t, "status", resp.StatusCode, 429)
			wantEqual(t, "Retry-After", resp.Header.Get("Retry-After"), "2")
		}},
		{"HTML 502", FailHTML(0), func(t *testing.T, resp *http.Response, body []byte, err error) {
			wantEqual(t, "status", resp.StatusCode, 502)
			wantEqual(t, "content type", strings.Split(resp.Header.Get("Content-Type"), ";")[0], "text/html")
		}},
		{"HTML 200", FailHTML(200), func(t *testing.T, resp *http.Response, body []byte, err error) {
			wantEqual(t, "status", resp.StatusCode, 200)
			if !strings.Contains(string(body), "<html>") {
				t.Errorf("body: got %q, want an HTML page", body)
			}
		}},
		{"truncated JSON", FailTruncated(), func(t *testing.T, resp *http.Response, body []byte, err error) {
			wantEqual(t, "status", resp.StatusCode, 200)
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				t.Errorf("body: got valid JSON %s, want it cut off", body)
			}
		}},
		{"reset", FailReset(), func(t *testing.T, resp *http.Response, _ []byte, err error) {
			if err == nil {
				t.Errorf("error: got none, want a transport error")
			}
		}},
		{"timeout with a bound", FailTimeout(50 * time.Millisecond), func(t *testing.T, resp *http.Response, _ []byte, err error) {
			if err == nil {
				t.Errorf("error: got none, want the connection dropped")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(t, Options{})
			p.FailNext(1, tc.f)
			form := url.Values{"grant_type": {"client_credentials"}}
			req, _ := http.NewRequest(http.MethodPost, p.TokenURL(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(p.ClientID(), p.ClientSecret())
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
			var body []byte
			if err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			tc.check(t, resp, body, err)
			wantEqual(t, "pending failures", p.PendingFailures(), 0)
			wantEqual(t, "next request", postForm(t, p, p.TokenURL(), form, true).status, 200)
			wantEqual(t, "TokenCalls", p.TokenCalls(), int64(2))
		})
	}
}

// A timeout without a bound holds the request until the client gives up.
func TestFailTimeoutUntilClientGivesUp(t *testing.T) {
	p := New(t, Options{})
	p.FailNext(1, FailTimeout(0))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL(), strings.NewReader("grant_type=client_credentials"))
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error: got %v, want the client's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %v, want about 100ms", d)
	}
}

// A slow answer still comes, after the delay.
func TestFailSlow(t *testing.T) {
	p := New(t, Options{})
	p.FailNext(1, FailSlow(80*time.Millisecond))
	start := time.Now()
	a := postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, true)
	wantEqual(t, "status", a.status, 200)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("answered after %v, want at least 80ms", d)
	}
}

// A Processed failure rotates the refresh token and loses the answer: the
// client is left with a dead refresh token, as in real life.
func TestFailProcessedLosesRotatedToken(t *testing.T) {
	p := New(t, Options{Style: Slice})
	c := code(t, p, authParams(p))
	creds := url.Values{"client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}}
	ex := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}}
	for k, v := range creds {
		ex[k] = v
	}
	rt := postForm(t, p, p.TokenURL(), ex, false).json(t)["refresh_token"].(string)

	p.FailNext(1, Failure{Kind: KindStatus, Status: 502, Processed: true, On: EndpointRefresh})
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, v := range creds {
		refresh[k] = v
	}
	wantEqual(t, "lost answer status", postForm(t, p, p.RefreshURL(), refresh, false).status, 502)
	wantEqual(t, "retry status", postForm(t, p, p.RefreshURL(), refresh, false).status, 400)
	wantEqual(t, "RefreshCalls", p.RefreshCalls(), int64(2))
}

// Failures aimed at one endpoint leave the others alone.
func TestFailOnEndpoint(t *testing.T) {
	p := New(t, Options{})
	p.FailNext(2, Failure{Kind: KindStatus, Status: 503, On: EndpointAPI})
	wantEqual(t, "token status", postForm(t, p, p.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, true).status, 200)
	wantEqual(t, "api status", bearerGet(t, p.APIURL(), "x").status, 503)
	wantEqual(t, "pending", p.PendingFailures(), 1)
}

// Counters and the request log hold under 1,000 concurrent callers, some of
// them failed on purpose.
func TestConcurrentCallers(t *testing.T) {
	p := New(t, Options{})
	p.FailNext(100, FailStatus(500))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			grant := "client_credentials"
			if i%2 == 1 {
				grant = "refresh_token"
			}
			req, _ := http.NewRequest(http.MethodPost, p.TokenURL(), strings.NewReader("grant_type="+grant+"&refresh_token=x"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(p.ClientID(), p.ClientSecret())
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	wantEqual(t, "TokenCalls", p.TokenCalls(), int64(500))
	wantEqual(t, "RefreshCalls", p.RefreshCalls(), int64(500))
	wantEqual(t, "recorded requests", len(p.Requests()), 1000)
	wantEqual(t, "500 answers", statuses[500], 100)
	wantEqual(t, "pending failures", p.PendingFailures(), 0)
}

// A JSON body makes a provider-shaped error, such as Slingr's 401.
func TestFailStatusWithJSONBody(t *testing.T) {
	p := New(t, Options{Style: Slingr})
	p.FailNext(1, Failure{Kind: KindStatus, Status: 401, Body: `{"code":"unauthorized","message":"Unauthorized. User login is required."}`})
	a := send(t, http.MethodPost, p.TokenURL()+"?grant_type=authorization_code", nil, nil)
	wantEqual(t, "status", a.status, 401)
	wantEqual(t, "content type", strings.Split(a.header.Get("Content-Type"), ";")[0], "application/json")
	wantEqual(t, "message", a.json(t)["message"], any("Unauthorized. User login is required."))
}
