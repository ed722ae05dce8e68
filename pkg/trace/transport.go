package trace

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Transport records, in the trace its request's context carries, each
// request it sends and the answer; a request without a trace goes through
// untouched. Bodies are captured as they are read, up to
// latchkey.TraceBodyLimit, so that a streamed answer is neither held back
// nor read twice.
type Transport struct {
	// Base sends the requests; http.DefaultTransport when nil.
	Base http.RoundTripper
}

// Wrap returns rt wrapped in a Transport, or rt itself when it is one.
func Wrap(rt http.RoundTripper) http.RoundTripper {
	if _, ok := rt.(*Transport); ok {
		return rt
	}
	return &Transport{Base: rt}
}

// Client returns a copy of c whose transport is wrapped in a Transport.
func Client(c *http.Client) *http.Client {
	cc := *c
	cc.Transport = Wrap(c.Transport)
	return &cc
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := From(req.Context())
	if r == nil {
		return t.base().RoundTrip(req)
	}
	s := r.begin(req)
	if s.keepBody {
		s.reqHeader = req.Header.Clone()
	}
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody != nil {
			// A body that can be read again (the engine's): a copy is read
			// here, and the request keeps its own.
			if rc, err := req.GetBody(); err == nil {
				s.reqBody, s.truncated, _ = readLimited(rc)
				rc.Close()
			}
		} else {
			// A streamed body (the proxy's): captured as it is sent. The
			// request is copied, not changed (RoundTripper's rule).
			out := *req
			out.Body = &captureBody{rc: req.Body, r: r, buf: &s.reqBody, cut: &s.truncated}
			req = &out
		}
	}
	resp, err := t.base().RoundTrip(req)
	// A call that succeeded is its method, URL, status and time; its
	// headers are kept with its bodies: for the OAuth flows, and for a
	// refusal or a failure, which is what a builder opens a trace for.
	if err != nil {
		r.mu.Lock()
		s.end, s.err = time.Now(), err.Error()
		if s.reqHeader == nil {
			s.reqHeader = req.Header.Clone()
		}
		r.mu.Unlock()
		return nil, err
	}
	keep := s.keepBody || resp.StatusCode >= 400
	r.mu.Lock()
	s.status = resp.StatusCode
	if keep {
		s.respHeader = resp.Header.Clone()
		if s.reqHeader == nil {
			s.reqHeader = req.Header.Clone()
		}
	}
	r.mu.Unlock()
	resp.Body = &answerBody{rc: resp.Body, r: r, s: s, keep: keep}
	return resp, nil
}

// readLimited reads up to the body limit of rc, reporting whether more was
// there.
func readLimited(rc io.Reader) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(rc, latchkey.TraceBodyLimit+1))
	if len(b) > latchkey.TraceBodyLimit {
		return b[:latchkey.TraceBodyLimit], true, err
	}
	return b, false, err
}

// captureBody copies what is read of a request body into buf, up to the
// limit.
type captureBody struct {
	rc  io.ReadCloser
	r   *Recorder
	buf *[]byte
	cut *bool
}

func (c *captureBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if n > 0 {
		c.r.mu.Lock()
		*c.buf, *c.cut = appendLimited(*c.buf, p[:n], *c.cut)
		c.r.mu.Unlock()
	}
	return n, err
}

func (c *captureBody) Close() error { return c.rc.Close() }

// appendLimited appends p to buf up to the body limit; cut says some was
// left out.
func appendLimited(buf, p []byte, cut bool) ([]byte, bool) {
	room := latchkey.TraceBodyLimit - len(buf)
	if room <= 0 {
		return buf, true
	}
	if len(p) > room {
		return append(buf, p[:room]...), true
	}
	return append(buf, p...), cut
}

// answerBody copies what is read of an answer's body into its step (when
// kept) and ends the step at the end of the body or at Close.
type answerBody struct {
	rc   io.ReadCloser
	r    *Recorder
	s    *step
	keep bool
	once sync.Once
	buf  bytes.Buffer
	cut  bool
}

func (a *answerBody) Read(p []byte) (int, error) {
	n, err := a.rc.Read(p)
	if n > 0 && a.keep {
		if room := latchkey.TraceBodyLimit - a.buf.Len(); room > 0 {
			a.buf.Write(p[:min(n, room)])
			a.cut = a.cut || n > room
		} else {
			a.cut = true
		}
	}
	if err != nil {
		a.end(err)
	}
	return n, err
}

func (a *answerBody) Close() error {
	err := a.rc.Close()
	a.end(nil)
	return err
}

func (a *answerBody) end(err error) {
	a.once.Do(func() {
		a.r.mu.Lock()
		defer a.r.mu.Unlock()
		a.s.end = time.Now()
		a.s.respBody = a.buf.Bytes()
		a.keep = false // the step owns the bytes now
		a.s.truncated = a.s.truncated || a.cut
		if err != nil && err != io.EOF {
			a.s.err = "the answer's body broke off: " + err.Error()
		}
	})
}
