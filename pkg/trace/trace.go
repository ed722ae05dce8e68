// Package trace records the flows Latchkey runs for a connection (an
// authorization, a refresh, a declared API call, a proxied call) as traces:
// every request sent to the provider and its answer, with secrets masked.
//
// A flow starts a Recorder in its context; the Transport, wrapped around
// the outbound HTTP transport, adds a step for each request made with that
// context; the flow ends with Finish, which hands the recorder to a Sink.
// The Writer is the sink of a server: it masks the traces and writes them
// in batches, off the request's path, so that a call waits on no database
// write and on no masking. Nothing unmasked is ever written.
package trace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Sink takes finished recorders; Write must not block.
type Sink interface {
	Write(r *Recorder)
}

type ctxKey struct{}

// Recorder gathers the steps of one flow. Its methods are safe for
// concurrent use and do nothing on a nil Recorder, so that a flow records
// without asking whether tracing is on.
type Recorder struct {
	sink  Sink
	start time.Time

	mu      sync.Mutex
	t       latchkey.Trace
	next    string // the name of the next request's step
	bodies  bool   // keep every answer's body, not only refusals'
	secrets []string
	steps   []*step
	done    bool
}

// step is a request as sent and its answer, not yet masked.
type step struct {
	name       string
	start      time.Time
	end        time.Time
	method     string
	url        string
	reqHeader  http.Header
	reqBody    []byte
	status     int
	respHeader http.Header
	respBody   []byte
	truncated  bool
	err        string
	keepBody   bool
	redirect   bool
}

// Start begins a trace of kind for key in env, and returns a context that
// carries its recorder. With a nil sink it returns ctx and a nil Recorder:
// nothing is recorded. A recorder ctx carries already is replaced: a
// refresh that a call needs is a trace of its own.
func Start(ctx context.Context, sink Sink, kind latchkey.TraceKind, key latchkey.ConnectionKey, name string) (context.Context, *Recorder) {
	if sink == nil {
		return ctx, nil
	}
	now := time.Now()
	r := &Recorder{sink: sink, start: now, t: latchkey.Trace{ID: newID(), Env: latchkey.EnvironmentFrom(ctx),
		ConnectionKey: key, Kind: kind, Name: name, StartedAt: now.UTC()}}
	// The OAuth flows are few and their answers are what a builder debugs:
	// every body is kept. API and proxied calls keep the bodies of
	// refusals only.
	r.bodies = kind == latchkey.TraceAuthorization || kind == latchkey.TraceRefresh || kind == latchkey.TraceVerify
	return context.WithValue(ctx, ctxKey{}, r), r
}

// From returns the recorder ctx carries, nil when none.
func From(ctx context.Context) *Recorder {
	r, _ := ctx.Value(ctxKey{}).(*Recorder)
	return r
}

// ID is the trace's id, "" on a nil Recorder.
func (r *Recorder) ID() string {
	if r == nil {
		return ""
	}
	return r.t.ID
}

// Next names the step of the next request sent with the recorder's
// context ("token exchange", "verification").
func (r *Recorder) Next(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.next = name
	r.mu.Unlock()
}

// SetKey changes the connection the trace belongs to (a client-credentials
// token is the org's, whoever asked).
func (r *Recorder) SetKey(key latchkey.ConnectionKey) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.t.ConnectionKey = key
	r.mu.Unlock()
}

// Secret adds values to mask wherever they appear in the trace: setting
// values, tokens, codes. Values shorter than four bytes are not masked (they
// would mask every digit).
func (r *Recorder) Secret(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	for _, v := range values {
		if len(v) >= minSecret {
			r.secrets = append(r.secrets, v)
		}
	}
	r.mu.Unlock()
}

// minSecret is the length below which a value is not masked.
const minSecret = 4

// Redirect adds a step that is no request Latchkey sent: the user's return
// from the provider, as the callback's URL arrived, with what the provider
// said when it refused (errText).
func (r *Recorder) Redirect(name, method, url, errText string) {
	if r == nil {
		return
	}
	now := time.Now()
	r.mu.Lock()
	r.steps = append(r.steps, &step{name: name, start: now, end: now, method: method, url: url, err: errText, redirect: true})
	r.mu.Unlock()
}

// Finish ends the trace with the flow's outcome (nil for success) and
// hands it to the sink. Only the first call counts.
func (r *Recorder) Finish(err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	r.t.DurationMS = ms(time.Since(r.start))
	r.t.OK = err == nil
	if err != nil {
		r.t.Error = failure(err)
	}
	r.mu.Unlock()
	r.sink.Write(r)
}

// Drop ends the trace without handing it to the sink: a flow that found
// nothing to run (no such app, config or connection) leaves no trace, so
// that names nobody connected cannot fill the store with traces.
func (r *Recorder) Drop() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

// failure is the text of a flow's error: the provider's own words when it
// gave them, after Latchkey's message.
func failure(err error) string {
	msg := latchkey.ErrorMessage(err)
	var le *latchkey.Error
	if errors.As(err, &le) && le.Provider != nil {
		if p := le.Provider.Error(); p != "" && !strings.Contains(msg, p) {
			msg += " (" + p + ")"
		}
	}
	return msg
}

// begin adds the step of a request about to be sent.
func (r *Recorder) begin(req *http.Request) *step {
	s := &step{start: time.Now(), method: req.Method, url: req.URL.String()}
	r.mu.Lock()
	s.name, r.next = r.next, ""
	if s.name == "" {
		s.name = defaultStep(r.t.Kind)
	}
	s.keepBody = r.bodies
	r.steps = append(r.steps, s)
	r.mu.Unlock()
	return s
}

func defaultStep(k latchkey.TraceKind) string {
	switch k {
	case latchkey.TraceRefresh:
		return "refresh"
	case latchkey.TraceAPI:
		return "API call"
	case latchkey.TraceProxy:
		return "proxied call"
	case latchkey.TraceVerify:
		return "verification"
	}
	return "request"
}

// Trace returns the trace with its steps, masked: what may be stored and
// shown. The Writer calls it off the request's path.
func (r *Recorder) Trace() latchkey.Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Each URL and body is read once. What credential-named fields and
	// parameters hold is a secret wherever else it shows (a token echoed in
	// a message): it is learnt from every step before any is masked.
	type parsedStep struct {
		u         parsedURL
		req, resp parsedBody
	}
	secrets := slices.Clone(r.secrets)
	add := func(v string) {
		// Eight bytes at least: a field such as "state": "open" is no
		// credential, and masking "open" everywhere would garble the trace.
		if len(v) >= 8 && v != Masked {
			secrets = append(secrets, v)
		}
	}
	parsed := make([]parsedStep, len(r.steps))
	for i, s := range r.steps {
		p := parsedStep{u: parseURL(s.url), req: parseBody(s.reqHeader.Get("Content-Type"), s.reqBody),
			resp: parseBody(s.respHeader.Get("Content-Type"), s.respBody)}
		p.u.learn(add)
		p.req.learn(add)
		p.resp.learn(add)
		parsed[i] = p
	}
	m := newMasker(secrets)
	t := r.t
	t.Error, t.Name = m.text(t.Error), m.text(t.Name)
	t.Steps = make([]latchkey.TraceStep, 0, len(r.steps))
	for i, s := range r.steps {
		p := parsed[i]
		st := latchkey.TraceStep{Name: s.name, StartedAt: s.start.UTC(), Method: s.method, URL: m.url(p.u),
			Request: m.headers(s.reqHeader), RequestBody: m.body(p.req), Status: s.status, Response: m.headers(s.respHeader),
			ResponseBody: m.body(p.resp), Truncated: s.truncated, Error: m.text(s.err), Redirect: s.redirect}
		if !s.end.IsZero() {
			st.DurationMS = ms(s.end.Sub(s.start))
		}
		if s.status != 0 {
			t.Status = s.status
		}
		t.Steps = append(t.Steps, st)
	}
	t.StepCount = len(t.Steps)
	return t
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newID returns a random trace id, "trc_" and 24 hex digits.
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand's Read never returns an error: it crashes the program instead
	return "trc_" + hex.EncodeToString(b)
}
