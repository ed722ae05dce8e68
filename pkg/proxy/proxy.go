package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/outbound"
)

// MaxReplayBody is the largest request body kept in memory so that the
// request can be replayed (after a refresh, or for a retry). A larger body is
// streamed once.
const MaxReplayBody = 1 << 20

// Headers of Latchkey's own on proxied and declared calls. The caller's
// Latchkey-* headers are never forwarded.
const (
	// HeaderTimeout (request) bounds the whole call, retries included: a
	// number of seconds or a Go duration ("2.5s").
	HeaderTimeout = "Latchkey-Timeout"
	// HeaderRetry (request) set to "true" lets a non-idempotent request be
	// retried.
	HeaderRetry = "Latchkey-Retry"
	// HeaderRetries (response) counts the retries made.
	HeaderRetries = "Latchkey-Retries"
	// HeaderTokenRefreshed (response) is "true" when the provider refused
	// the token and Latchkey refreshed it; HeaderReplayed then says
	// whether the request was sent again with the new one ("false" for a
	// body too large to replay, whose refusal is passed back).
	HeaderTokenRefreshed = "Latchkey-Token-Refreshed"
	HeaderReplayed       = "Latchkey-Replayed"
	// HeaderError marks an answer that is Latchkey's refusal, not the
	// provider's (its value is the error code).
	HeaderError = "Latchkey-Error"
)

// Error codes of the proxy's own refusals (besides the engine's).
const (
	ETimeout            = "timeout"              // the caller's deadline passed
	EUpstreamNotAllowed = "upstream_not_allowed" // the upstream's address is private, loopback or link-local
)

// Proxy sends calls. Its zero value is not usable; fill Transport. A Proxy
// serves calls concurrently; it must not be copied after its first call.
type Proxy struct {
	// Transport sends requests to providers (outbound.NewTransport).
	Transport http.RoundTripper
	// Backoff is the wait before a first retry, doubled per retry up to
	// MaxBackoff, with ±20% jitter; 200 ms and 5 s when zero. A provider's
	// Retry-After or rate-limit reset longer than MaxWait ends the retries:
	// the answer is passed back.
	Backoff, MaxBackoff, MaxWait time.Duration

	// once builds rp, the one ReverseProxy of every call: a call's own
	// state travels in its request's context (callKey), so that a call
	// allocates no proxy, closures or transport of its own.
	once sync.Once
	rp   *httputil.ReverseProxy
}

// Call is one call to serve.
type Call struct {
	// Upstream is the connection's side: credentials, policy, renewal.
	Upstream *flow.Upstream
	// Target, for a proxied call, is the URL to send to, made by Join from
	// the base URL, the caller's escaped path and its query.
	Target *url.URL
	// Declared is set for a declared API: the caller's headers and body are
	// not forwarded, and only SafeHeaders of the answer come back.
	Declared bool
	// Retry lets a non-idempotent request be retried (HeaderRetry).
	Retry bool
	// Timeout, when set, bounds the whole call.
	Timeout time.Duration
}

// Result is how a call went, for metrics, audit and logs.
type Result struct {
	Status    int // the provider's status; 0 when none came back
	Retries   int
	Refreshed bool
	Replayed  bool
	Err       error // the proxy's or engine's refusal, if any
}

// SafeHeaders are the provider's response headers a declared API passes
// back, besides its status and body.
var SafeHeaders = []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language", "Content-Disposition",
	"Cache-Control", "ETag", "Last-Modified", "Expires", "Link", "Location", "Retry-After", "Vary"}

// safePrefixes are the families of rate-limit headers that also pass.
var safePrefixes = []string{"X-Ratelimit-", "Ratelimit-", "X-Rate-Limit-"}

// stripped are the caller's headers never forwarded on a proxied call:
// Latchkey's own credentials and session, and the forwarding headers that
// would reveal the caller's network.
var stripped = []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Csrf-Token", "Forwarded", "X-Forwarded-For",
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// Join returns the target of a proxied call: rawPath (escaped, as the
// caller sent it after the proxy route's prefix) under base, with rawQuery.
// A path with a '.' or '..' segment or an encoded slash or backslash is
// refused before joining, so that the target never leaves base's path; the
// scheme and host are base's.
func Join(base *url.URL, rawPath, rawQuery string) (*url.URL, error) {
	if flow.DotSegments(rawPath) {
		return nil, &latchkey.Error{Code: latchkey.EBADREQUEST,
			Message: "the proxied path may not hold '.' or '..' segments or encoded slashes: it must stay under the API base URL",
			Fields:  []latchkey.FieldError{{Field: "path", Message: "climbs out of the API base URL"}}}
	}
	u := *base
	basePath := strings.TrimSuffix(base.EscapedPath(), "/")
	joined := basePath + "/" + strings.TrimPrefix(rawPath, "/")
	p, err := url.PathUnescape(joined)
	if err != nil {
		return nil, latchkey.Errorf(latchkey.EBADREQUEST, "the proxied path is not a valid escaped path")
	}
	u.Path, u.RawPath = p, joined
	if u.EscapedPath() != joined {
		u.RawPath = ""
	}
	if !strings.HasPrefix(u.EscapedPath(), basePath+"/") {
		return nil, latchkey.Errorf(latchkey.EBADREQUEST, "the proxied path must stay under the API base URL")
	}
	u.RawQuery = rawQuery
	if q := base.RawQuery; q != "" {
		if rawQuery == "" {
			u.RawQuery = q
		} else {
			u.RawQuery = q + "&" + rawQuery
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return &u, nil
}

// Serve sends the call and streams the provider's answer to w. onError
// writes Latchkey's refusal (a JSON error with HeaderError); it is called
// at most once, before anything else is written.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, call Call, onError func(error)) Result {
	ctx := r.Context()
	if call.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, call.Timeout)
		defer cancel()
	}
	st := &callState{p: p, call: call, ctx: ctx, onError: onError}
	if err := st.prepareBody(r); err != nil {
		st.res.Err = latchkey.WrapError(latchkey.EBADREQUEST, err, "the request body could not be read")
		onError(st.res.Err)
		return st.res
	}
	p.once.Do(p.init)
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, callKey{}, st)))
	return st.res
}

// callKey is the context key of a call's *callState.
type callKey struct{}

// callState is one call being served: what the shared ReverseProxy's
// functions and transport need of it, and how it went.
type callState struct {
	p       *Proxy
	call    Call
	ctx     context.Context // the call's, with its deadline
	onError func(error)
	res     Result
	// raw is the caller's whole body when it can be replayed (nil when
	// there is none); stream is a body too large to replay, sent once.
	raw    []byte
	stream io.Reader
}

// stateOf returns the call of a request made by Serve.
func stateOf(r *http.Request) *callState {
	if r == nil {
		return nil
	}
	st, _ := r.Context().Value(callKey{}).(*callState)
	return st
}

// copyBufferSize is the size of the buffers the answers are copied through
// (ReverseProxy's own size).
const copyBufferSize = 32 << 10

// bufferPool lends the buffers that answers are copied through, so that a
// call does not allocate (and the collector clear and reclaim) 32 KB of its
// own. It implements httputil.BufferPool.
type bufferPool struct{ pool sync.Pool }

// Get returns a buffer of copyBufferSize bytes, a pooled one if any.
func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[copyBufferSize]byte); ok {
		return buf[:]
	}
	return new([copyBufferSize]byte)[:]
}

// Put gives a buffer of Get's back to the pool.
func (b *bufferPool) Put(buf []byte) {
	if len(buf) == copyBufferSize && cap(buf) == copyBufferSize {
		b.pool.Put((*[copyBufferSize]byte)(buf))
	}
}

// init builds the ReverseProxy that serves every call.
func (p *Proxy) init() {
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      attempts{},
		ModifyResponse: modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			st := stateOf(r)
			if st == nil { // not a call of Serve's: the shared proxy is not exported
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			st.res.Err = classify(st.ctx, err)
			st.onError(st.res.Err)
		},
		BufferPool: &bufferPool{},
	}
}

// rewrite makes the request to send: for a proxied call the caller's
// request to the target without Latchkey's credentials or the forwarding
// headers; for a declared API the API's method, with none of the caller's
// headers or body (Authorize renders the rest).
func rewrite(pr *httputil.ProxyRequest) {
	call := stateOf(pr.In).call
	out := pr.Out
	if call.Declared {
		out.Header = http.Header{}
		out.Method = call.Upstream.Method()
		if out.Method == "" {
			out.Method = http.MethodGet
		}
		out.Body, out.ContentLength, out.GetBody = http.NoBody, 0, nil
	} else {
		for _, h := range stripped {
			delete(out.Header, h) // the names are canonical, as the server's header keys
		}
		*out.URL = *call.Target // into the outgoing request's own copy: Authorize may add to it
	}
	for k := range out.Header {
		if strings.HasPrefix(k, "Latchkey-") {
			delete(out.Header, k)
		}
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = userAgent
	}
	out.Host = ""
}

// Shared, read-only header values of one element (len == cap, so that an
// Add appends to a copy): the User-Agent sent when the caller sent none,
// and the answer's HeaderRetries and HeaderTokenRefreshed when they are
// the usual ones.
var (
	userAgent  = []string{"Latchkey"}[:1:1]
	noRetries  = []string{"0"}[:1:1]
	trueValue  = []string{"true"}[:1:1]
	falseValue = []string{"false"}[:1:1]
)

// modifyResponse takes the provider's answer: its cookies and Latchkey-*
// headers never pass (nor, for a declared API, any header but SafeHeaders),
// and HeaderRetries (and HeaderTokenRefreshed) say how the call went.
func modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request)
	if st == nil {
		return errors.New("proxy: an answer to a request not made by Serve")
	}
	res := &st.res
	h := resp.Header
	delete(h, "Set-Cookie")
	if st.call.Declared {
		for k := range h {
			if !safeHeader(k) {
				delete(h, k)
			}
		}
	}
	for k := range h {
		if strings.HasPrefix(k, "Latchkey-") {
			delete(h, k)
		}
	}
	if res.Retries == 0 {
		h[HeaderRetries] = noRetries
	} else {
		h[HeaderRetries] = []string{strconv.Itoa(res.Retries)}
	}
	if res.Refreshed {
		h[HeaderTokenRefreshed] = trueValue
		h[HeaderReplayed] = falseValue
		if res.Replayed {
			h[HeaderReplayed] = trueValue
		}
	}
	res.Status = resp.StatusCode
	return nil
}

func safeHeader(k string) bool {
	if slices.Contains(SafeHeaders, k) {
		return true
	}
	for _, p := range safePrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// prepareBody reads up to MaxReplayBody of the caller's body so that it can
// be replayed; a larger one, or one announced as larger, is streamed.
func (st *callState) prepareBody(r *http.Request) error {
	if st.call.Declared || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > MaxReplayBody {
		st.stream = r.Body
		return nil
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r.Body, MaxReplayBody+1))
	if err != nil {
		return err
	}
	if n > MaxReplayBody {
		st.stream = io.MultiReader(bytes.NewReader(buf.Bytes()), r.Body)
		return nil
	}
	st.raw = buf.Bytes()
	if st.raw == nil {
		st.raw = []byte{} // an empty body is still a body
	}
	return nil
}

// classify turns a failed call into Latchkey's error.
func classify(ctx context.Context, err error) error {
	var le *latchkey.Error
	switch {
	case errors.As(err, &le):
		return le
	case errors.Is(err, outbound.ErrForbiddenAddress):
		return &latchkey.Error{Code: EUpstreamNotAllowed, Err: err,
			Message: "the provider's address is loopback, private or link-local, which this server does not call (see --allow-private-upstreams)"}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return &latchkey.Error{Code: ETimeout, Err: err, Message: "the call did not complete within its deadline"}
	}
	return &latchkey.Error{Code: latchkey.EPROVIDER, Err: err, Message: "the provider could not be reached"}
}

// attempts is the ReverseProxy's transport: it sends a call, with its
// credentials, as often as the policy allows.
type attempts struct{}

// RoundTrip sends out with the call's credentials: again once with a new
// token when the provider refused the token and the body can be replayed,
// and again on the policy's retry statuses and network errors while
// retries, the body and the deadline allow.
func (attempts) RoundTrip(out *http.Request) (*http.Response, error) {
	a := stateOf(out)
	if a == nil {
		return nil, errors.New("proxy: a request not made by Serve")
	}
	resp, err := a.send(out)
	if resp != nil && stateOf(resp.Request) != a {
		resp.Request = out // modifyResponse finds the call through it
	}
	return resp, err
}

// send makes the call's attempts: RoundTrip.
func (a *callState) send(out *http.Request) (*http.Response, error) {
	ctx := out.Context()
	up := a.call.Upstream
	pol := up.Policy()
	idempotent := a.call.Retry || isIdempotent(out.Method)
	raw, replayable := a.raw, a.stream == nil
	for attempt, sent := 0, false; ; attempt++ {
		// The first attempt sends the ReverseProxy's own outgoing request;
		// a later one (a replay too) a copy of it, since the transport may
		// still be reading the one before.
		req := out
		if sent {
			req = out.Clone(ctx)
		}
		sent = true
		switch {
		case raw != nil:
			req.Body = io.NopCloser(bytes.NewReader(raw))
			req.ContentLength = int64(len(raw))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
		case a.stream != nil && attempt == 0:
			req.Body = io.NopCloser(a.stream)
		case a.stream != nil:
			return nil, errors.New("proxy: the request body cannot be sent again")
		}
		if err := up.Authorize(req); err != nil {
			return nil, err
		}
		canRetry := idempotent && replayable && attempt < pol.MaxRetries
		resp, err := a.p.Transport.RoundTrip(req)
		if err != nil {
			if canRetry && !errors.Is(err, outbound.ErrForbiddenAddress) && ctx.Err() == nil {
				if a.wait(ctx, attempt, 0) {
					a.res.Retries++
					continue
				}
			}
			return nil, err
		}
		if !a.res.Refreshed && a.expired(ctx, resp, pol) {
			renewed, rerr := up.Renew(ctx)
			if rerr == nil && renewed {
				a.res.Refreshed = true
				if replayable {
					drain(resp)
					a.res.Replayed = true
					attempt-- // the replay is no retry
					continue
				}
			}
			return resp, nil
		}
		// A token-expired status is never retried, even when the config
		// lists it among the retry statuses: after its one refresh and
		// replay it is the answer (no 401 loop).
		if canRetry && slices.Contains(pol.RetryStatuses, resp.StatusCode) && !slices.Contains(pol.TokenExpiredStatuses, resp.StatusCode) {
			delay, ok := a.p.providerDelay(resp, pol)
			if ok && a.wait(ctx, attempt, delay) {
				drain(resp)
				a.res.Retries++
				continue
			}
		}
		return resp, nil
	}
}

// expired reports whether the answer means the token was refused: one of
// the policy's statuses, or a JSON body of at most MaxReplayBody bytes that
// meets its condition (the body is then read and put back).
func (a *callState) expired(ctx context.Context, resp *http.Response, pol flow.CallPolicy) bool {
	if slices.Contains(pol.TokenExpiredStatuses, resp.StatusCode) {
		return true
	}
	if pol.TokenExpired == nil || resp.ContentLength > MaxReplayBody || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return false
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return false
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, MaxReplayBody+1))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf.Bytes()), rest), rest}
	if err != nil || n > MaxReplayBody {
		return false
	}
	return pol.TokenExpired(ctx, resp.Header.Get("Content-Type"), buf.Bytes())
}

// providerDelay is how long the provider asked to wait: Retry-After
// (RFC 9110 §10.2.3, seconds or a date) or the policy's reset header. It is
// false when the wait is longer than MaxWait.
func (p *Proxy) providerDelay(resp *http.Response, pol flow.CallPolicy) (time.Duration, bool) {
	maxWait := p.MaxWait
	if maxWait == 0 {
		maxWait = 30 * time.Second
	}
	var d time.Duration
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			d = time.Duration(secs * float64(time.Second))
		} else if at, err := http.ParseTime(v); err == nil {
			d = time.Until(at)
		}
	} else if pol.ResetHeader != "" {
		if v, err := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get(pol.ResetHeader)), 64); err == nil {
			if pol.ResetFormat == latchkey.ResetSeconds {
				d = time.Duration(v * float64(time.Second))
			} else {
				d = time.Until(time.Unix(int64(v), 0))
			}
		}
	}
	if d < 0 {
		d = 0
	}
	return d, d <= maxWait
}

// wait sleeps before a retry: at least floor, else the capped exponential
// backoff with jitter. It is false when the deadline would pass first.
func (a *callState) wait(ctx context.Context, attempt int, floor time.Duration) bool {
	base, ceiling := a.p.Backoff, a.p.MaxBackoff
	if base == 0 {
		base = 200 * time.Millisecond
	}
	if ceiling == 0 {
		ceiling = 5 * time.Second
	}
	d := base << attempt
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	d = max(d, floor)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// drain reads a little of an answer that is dropped, so that its connection
// can be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// isIdempotent reports whether method is idempotent (RFC 9110 §9.2.2).
func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
