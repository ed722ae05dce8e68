package trace_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/trace"
)

// sink keeps the recorders it is given.
type sink struct {
	mu   sync.Mutex
	recs []*trace.Recorder
}

func (s *sink) Write(r *trace.Recorder) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

var key = latchkey.ConnectionKey{App: "crm", Org: "acme", User: "ann", Config: "main"}

// A provider that echoes what it is sent and answers a token response, as
// a token endpoint does, or a refusal on /fail.
func provider(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "sid=abc123456")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error": {"code": 400, "message": "bad page token"}}`)
			return
		}
		io.WriteString(w, `{"access_token": "at-NEW-token-1", "token_type": "Bearer", "expires_in": 3600, "nested": {"refresh_token": "rt-1"}, "note": "signed at-NEW-token-1"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAnExchangeIsRecordedWithEverySecretMasked: the recorder's step holds
// the request and the answer as sent and received, but no secret: not a
// known value (the client secret, in the body and URL-encoded in the
// query), not a credential header, not a token-named field at any depth.
func TestAnExchangeIsRecordedWithEverySecretMasked(t *testing.T) {
	srv := provider(t)
	var s sink
	ctx, rec := trace.Start(context.Background(), &s, latchkey.TraceAuthorization, key, "")
	rec.Secret("cs/secret+value", "x") // the second is too short to mask
	rec.Next("token exchange")
	client := trace.Client(srv.Client())
	body := "grant_type=authorization_code&code=the-code&client_secret=cs%2Fsecret%2Bvalue"
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/token?api_key=k-123&hint=cs%2Fsecret%2Bvalue&page=2", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic Y2xpZW50OnNlY3JldA==")
	req.Header.Set("X-Trace-Id", "cs/secret+value")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	rec.Finish(nil)

	if len(s.recs) != 1 {
		t.Fatalf("the sink got %d recorders, want 1", len(s.recs))
	}
	tr := s.recs[0].Trace()
	if len(tr.Steps) != 1 || !tr.OK || tr.Status != 200 || tr.ConnectionKey != key || tr.StepCount != 1 {
		t.Fatalf("trace: got %+v", tr)
	}
	st := tr.Steps[0]
	all := st.URL + st.RequestBody + st.ResponseBody + strings.Join(values(st.Request), " ") + strings.Join(values(st.Response), " ")
	for _, secret := range []string{"cs/secret+value", "cs%2Fsecret%2Bvalue", "the-code", "k-123", "Y2xpZW50OnNlY3JldA", "at-NEW-token-1", "rt-1", "abc123456"} {
		if strings.Contains(all, secret) {
			t.Errorf("the step holds %q:\n%s", secret, all)
		}
	}
	if st.Name != "token exchange" || st.Method != "POST" || st.Request["Authorization"] != "Basic "+trace.Masked {
		t.Errorf("step: got %+v", st)
	}
	for _, want := range []string{"page=2", "grant_type=authorization_code", `"token_type": "Bearer"`, `"expires_in": 3600`} {
		if !strings.Contains(all, want) {
			t.Errorf("the step lost %q, which is no secret:\n%s", want, all)
		}
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestCallsKeepTheBodiesOfRefusalsOnly: a proxied call keeps no body of a
// success, the provider's error of a refusal (its numeric code kept), and
// a streamed request body up to the limit, marked cut.
func TestCallsKeepTheBodiesOfRefusalsOnly(t *testing.T) {
	srv := provider(t)
	var s sink
	client := trace.Client(srv.Client())
	for _, path := range []string{"/ok", "/fail"} {
		ctx, rec := trace.Start(context.Background(), &s, latchkey.TraceProxy, key, "POST "+path)
		big := strings.Repeat("a", latchkey.TraceBodyLimit+100)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+path, io.NopCloser(strings.NewReader(big)))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		rec.Finish(nil)
	}
	ok, refused := s.recs[0].Trace().Steps[0], s.recs[1].Trace().Steps[0]
	if ok.ResponseBody != "" || len(ok.RequestBody) != latchkey.TraceBodyLimit || !ok.Truncated || ok.Name != "proxied call" {
		t.Errorf("the success: got a %d-byte answer, a %d-byte request, cut %v", len(ok.ResponseBody), len(ok.RequestBody), ok.Truncated)
	}
	if !strings.Contains(refused.ResponseBody, "bad page token") || !strings.Contains(refused.ResponseBody, `"code": 400`) || refused.Status != 400 {
		t.Errorf("the refusal: got %+v, want the provider's error as it said it", refused)
	}
}

// TestAFailedRequestIsAStepWithItsError: no answer is a step with why.
func TestAFailedRequestIsAStepWithItsError(t *testing.T) {
	var s sink
	ctx, rec := trace.Start(context.Background(), &s, latchkey.TraceRefresh, key, "")
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:1/token", strings.NewReader("x=1"))
	if _, err := trace.Client(http.DefaultClient).Do(req); err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	rec.Finish(latchkey.Errorf(latchkey.EPROVIDER, "the provider could not be reached"))
	tr := s.recs[0].Trace()
	if tr.OK || tr.Error == "" || len(tr.Steps) != 1 || !strings.Contains(tr.Steps[0].Error, "refused") {
		t.Fatalf("got %+v, want a failed trace whose step says the connection was refused", tr)
	}
}

// TestWithoutASinkNothingIsRecorded: tracing off costs a nil check.
func TestWithoutASinkNothingIsRecorded(t *testing.T) {
	ctx, rec := trace.Start(context.Background(), nil, latchkey.TraceProxy, key, "")
	if rec != nil || trace.From(ctx) != nil {
		t.Fatal("a recorder without a sink")
	}
	rec.Secret("x")
	rec.Next("y")
	rec.Finish(nil) // no panic on a nil recorder
}

// appender keeps what the writer writes.
type appender struct {
	mu     sync.Mutex
	traces []latchkey.Trace
}

func (a *appender) AppendTraces(_ context.Context, ts ...latchkey.Trace) error {
	a.mu.Lock()
	a.traces = append(a.traces, ts...)
	a.mu.Unlock()
	return nil
}

// TestTheWriterWritesMaskedTracesAndSkipsKeyless: Flush returns once what
// was queued is written, masked; a trace with no connection is dropped;
// after Close, writes are dropped without a panic.
func TestTheWriterWritesMaskedTracesAndSkipsKeyless(t *testing.T) {
	var a appender
	w := trace.NewWriter(&a, nil)
	_, rec := trace.Start(context.Background(), w, latchkey.TraceAPI, key, "me")
	rec.Secret("sekrit-value")
	rec.Redirect("return", "GET", "https://p.example/cb?token=sekrit-value", "")
	rec.Finish(latchkey.Errorf(latchkey.EPROVIDER, "refused sekrit-value"))
	_, keyless := trace.Start(context.Background(), w, latchkey.TraceAPI, latchkey.ConnectionKey{App: "crm", Org: "acme"}, "me")
	keyless.Finish(nil)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	got := a.traces
	a.mu.Unlock()
	if len(got) != 1 || strings.Contains(got[0].Error+got[0].Steps[0].URL, "sekrit") {
		t.Fatalf("written: got %+v, want one trace, masked", got)
	}
	w.Close()
	_, late := trace.Start(context.Background(), w, latchkey.TraceAPI, key, "me")
	late.Finish(nil)
}

// TestABusyConnectionsOlderTracesOfABatchAreNotWritten: the store keeps a
// connection's newest KeepTraces, so a batch writes no more than that of
// one connection: the newest, with the other connections' all written.
func TestABusyConnectionsOlderTracesOfABatchAreNotWritten(t *testing.T) {
	var a appender
	w := trace.NewWriter(&a, nil)
	defer w.Close()
	bob := key
	bob.User = "bob"
	var last string
	for i := range latchkey.KeepTraces + 20 {
		_, rec := trace.Start(context.Background(), w, latchkey.TraceProxy, key, "GET /items")
		rec.Finish(nil)
		last = rec.ID()
		if i%20 == 0 {
			_, other := trace.Start(context.Background(), w, latchkey.TraceProxy, bob, "GET /me")
			other.Finish(nil)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := map[string]int{}
	for _, tr := range a.traces {
		n[tr.User]++
	}
	if n["ann"] != latchkey.KeepTraces || n["bob"] != 4 {
		t.Fatalf("written: got %v, want %d of ann's and all 4 of bob's", n, latchkey.KeepTraces)
	}
	found := false
	for _, tr := range a.traces {
		found = found || tr.ID == last
	}
	if !found {
		t.Fatal("ann's newest trace was not written")
	}
}
