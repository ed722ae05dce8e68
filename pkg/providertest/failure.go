package providertest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// FailureKind is how a provider fails a request.
type FailureKind string

// Failure kinds.
const (
	// KindStatus answers with Failure.Status (500 by default), a text body
	// and, when RetryAfter is set, a Retry-After header (RFC 9110 §10.2.3).
	KindStatus FailureKind = "status"
	// KindTimeout holds the request until the client gives up (its context
	// ends), Delay passes or the provider closes, then drops the connection
	// without an answer.
	KindTimeout FailureKind = "timeout"
	// KindReset drops the TCP connection at once (a reset, without an HTTP
	// answer).
	KindReset FailureKind = "reset"
	// KindHTML answers with an HTML error page, as a proxy in front of the
	// provider does, with Failure.Status (502 by default; 200 happens too).
	KindHTML FailureKind = "html"
	// KindTruncated answers HTTP 200 with Content-Type application/json and
	// a token answer cut in the middle.
	KindTruncated FailureKind = "truncated"
	// KindSlow waits Delay (or until the client gives up) and then answers
	// normally.
	KindSlow FailureKind = "slow"
)

// Failure describes how the next matching request fails.
type Failure struct {
	Kind FailureKind
	// Status is the HTTP status of KindStatus and KindHTML.
	Status int
	// RetryAfter, when positive, is sent as Retry-After in seconds.
	RetryAfter time.Duration
	// Body replaces the default body of KindStatus and KindHTML; a KindStatus
	// body starting with "{" is sent as application/json, such as Slingr's
	// {"code":"unauthorized","message":"Unauthorized. User login is required."}.
	Body string
	// Delay bounds KindTimeout (0: no bound) and sets KindSlow's wait.
	Delay time.Duration
	// On is the endpoint whose requests fail; empty means token and refresh
	// requests.
	On Endpoint
	// Processed makes the provider do the work first (consume the code,
	// rotate the refresh token) and then fail, as when an answer is lost on
	// its way back. It applies to every kind but KindSlow.
	Processed bool
}

// FailStatus returns a failure answering with status.
func FailStatus(status int) Failure { return Failure{Kind: KindStatus, Status: status} }

// FailRateLimited returns a failure answering 429 with Retry-After.
func FailRateLimited(retryAfter time.Duration) Failure {
	return Failure{Kind: KindStatus, Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// FailTimeout returns a failure that hangs for at most d (0: until the
// client gives up) and then drops the connection.
func FailTimeout(d time.Duration) Failure { return Failure{Kind: KindTimeout, Delay: d} }

// FailReset returns a failure that resets the connection.
func FailReset() Failure { return Failure{Kind: KindReset} }

// FailHTML returns a failure answering an HTML page with status.
func FailHTML(status int) Failure { return Failure{Kind: KindHTML, Status: status} }

// FailTruncated returns a failure answering a cut-off JSON body.
func FailTruncated() Failure { return Failure{Kind: KindTruncated} }

// FailSlow returns a failure that answers normally after d.
func FailSlow(d time.Duration) Failure { return Failure{Kind: KindSlow, Delay: d} }

// FailNext makes the next n requests that f.On matches fail as f says.
// Failures queue up in the order they were added.
func (p *Provider) FailNext(n int, f Failure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failures = append(p.failures, f)
	}
}

// PendingFailures returns how many queued failures have not struck yet.
func (p *Provider) PendingFailures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.failures)
}

func (f Failure) matches(e Endpoint) bool {
	if f.On == "" {
		return e == EndpointToken || e == EndpointRefresh
	}
	return f.On == e
}

// takeFailure removes and returns the first queued failure for e.
func (p *Provider) takeFailure(e Endpoint) (Failure, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.failures {
		if f.matches(e) {
			p.failures = append(p.failures[:i], p.failures[i+1:]...)
			return f, true
		}
	}
	return Failure{}, false
}

// injectFailure applies the next failure queued for e, if any, and reports
// whether it answered the request. serve, when not nil, does the request's
// normal work; a Processed failure runs it and throws the answer away.
func (p *Provider) injectFailure(w http.ResponseWriter, r *http.Request, e Endpoint, serve func(http.ResponseWriter)) bool {
	f, ok := p.takeFailure(e)
	if !ok {
		return false
	}
	if f.Kind == KindSlow {
		p.wait(r, f.Delay)
		return false
	}
	if f.Processed && serve != nil {
		serve(httptest.NewRecorder())
	}
	switch f.Kind {
	case KindStatus:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		body := f.Body
		if body == "" {
			body = http.StatusText(status)
		}
		ct := "text/plain; charset=utf-8"
		if strings.HasPrefix(body, "{") {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	case KindHTML:
		status := f.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		body := f.Body
		if body == "" {
			body = fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"+
				"<body><center><h1>%d %s</h1></center><hr><center>nginx</center></body></html>\n",
				status, http.StatusText(status), status, http.StatusText(status))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	case KindTruncated:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bea`))
	case KindTimeout:
		p.wait(r, f.Delay)
		drop(w, false)
	case KindReset:
		drop(w, true)
	default:
		panic("providertest: unknown failure kind " + string(f.Kind))
	}
	return true
}

// wait blocks for d (forever when d is 0) or until the request's context
// ends or the provider closes.
func (p *Provider) wait(r *http.Request, d time.Duration) {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-r.Context().Done():
	case <-p.closed:
	}
}

// drop closes the connection under the request without an answer; reset
// makes the close a TCP RST.
func drop(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
