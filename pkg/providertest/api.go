package providertest

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The protected API every style serves under /api (and the tenant prefix
// when there is one), for proxied and declared calls. Every endpoint needs a
// live Bearer access token of its tenant (RFC 6750 §2.1) and answers 401
// with an invalid_token challenge otherwise (§3.1), so a token revoked
// before its expiry (RevokeAccessTokens) is refused as a real API would.
//
//	GET  /api/me                 the user: {"id", "name", "client_id", "scope", "tenant"}
//	GET  /api/items?page=&per_page=   a paginated list of ItemCount items, with Link: <…>; rel="next"
//	GET  /api/download?size=&gzip=   size bytes of application/octet-stream, streamed with a Content-Length,
//	                             or gzip-compressed (chunked) with gzip=true to a client that accepts it
//	PUT  /api/upload (or POST)   reads the body as it streams: {"bytes", "sha256"}
//	GET  /api/slow?delay=        answers {"slept"} after delay (a Go duration), or when the client gives up
//	GET  /api/limited            429 with Retry-After: ?retry_after (seconds, default 1), always
//	GET  /api/redirect?to=       302 to the address to
//	*    /api/echo/…             the request as received: method, path, query, headers, body size
//	GET  /api/answer?status=&body=&header=Name:value  answers status with body as JSON and the headers
//	                                (an API that says 200 {"ok": false}, a rate limit's reset header)
//
// FailNext with On: EndpointAPI makes any of them fail first (429 with
// Retry-After, 5xx, resets, slow answers).

// ItemCount is how many items GET /api/items lists.
const ItemCount = 25

func (p *Provider) apiRoutes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/api/items", p.protected(p.handleItems))
	mux.HandleFunc("GET "+prefix+"/api/download", p.protected(handleDownload))
	mux.HandleFunc("PUT "+prefix+"/api/upload", p.protected(handleUpload))
	mux.HandleFunc("POST "+prefix+"/api/upload", p.protected(handleUpload))
	mux.HandleFunc("GET "+prefix+"/api/slow", p.protected(p.handleSlow))
	mux.HandleFunc("GET "+prefix+"/api/limited", p.protected(handleLimited))
	mux.HandleFunc("GET "+prefix+"/api/redirect", p.protected(handleRedirect))
	mux.HandleFunc(prefix+"/api/echo/", p.protected(handleEcho))
	mux.HandleFunc("GET "+prefix+"/api/answer", p.protected(handleAnswer))
}

// protected records the request (without reading a body that may be
// large), applies a queued failure, and checks the Bearer token.
func (p *Provider) protected(h func(http.ResponseWriter, *http.Request, grant)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Endpoint: EndpointAPI, Method: r.Method, URL: r.URL.RequestURI(), Query: r.URL.Query(),
			Header: r.Header.Clone(), Tenant: r.PathValue("tenant"), Time: p.opts.Now()}
		p.keep(rec)
		if p.injectFailure(w, r, EndpointAPI, nil) {
			return
		}
		g, ok := p.bearerGrant(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
			return
		}
		h(w, r, g)
	}
}

// bearerGrant returns the grant of the request's live Bearer token.
func (p *Provider) bearerGrant(r *http.Request) (grant, bool) {
	token, ok := hasBearer(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.access[token]
	if !ok || a == nil || expired(a.expires, p.opts.Now()) || a.tenant != p.tenantOf(r) {
		return grant{}, false
	}
	return a.grant, true
}

// RevokeAccessTokens forgets every access token before its expiry and
// keeps the refresh tokens, as a provider does when it rotates its signing
// keys or an admin ends sessions: API calls answer 401 and a refresh works.
func (p *Provider) RevokeAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.access = map[string]*accessRecord{}
	for _, r := range p.refresh {
		r.access = ""
	}
}

// APIBaseURL is the base of the protected API: /api under the tenant
// prefix when there is one.
func (p *Provider) APIBaseURL() string {
	if p.opts.Subdomain {
		return p.BaseURL() + "/api"
	}
	return p.URL + "/api"
}

func (p *Provider) handleItems(w http.ResponseWriter, r *http.Request, g grant) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	page, per = max(page, 1), min(max(per, 1), 100)
	if r.URL.Query().Get("per_page") == "" {
		per = 10
	}
	var items []map[string]any
	for i := (page - 1) * per; i < min(page*per, ItemCount); i++ {
		items = append(items, map[string]any{"id": fmt.Sprintf("item-%02d", i+1), "owner": g.user})
	}
	out := map[string]any{"items": items, "page": page, "total": ItemCount}
	if page*per < ItemCount {
		next := *r.URL
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
		out["next_page"] = page + 1
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDownload streams size bytes (a repeating pattern) without holding
// them.
func handleDownload(w http.ResponseWriter, r *http.Request, _ grant) {
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil || size < 0 {
		size = 1 << 20
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	var out io.Writer = w
	if r.URL.Query().Get("gzip") == "true" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		// Compressed as it streams: no Content-Length, so chunked.
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		out = zw
	} else {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	for size > 0 {
		n := min(size, int64(len(chunk)))
		if _, err := out.Write(chunk[:n]); err != nil {
			return
		}
		size -= n
	}
}

// handleUpload reads the body as it streams and answers its size and
// SHA-256.
func handleUpload(w http.ResponseWriter, r *http.Request, _ grant) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "the body could not be read"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"bytes": n, "sha256": hex.EncodeToString(h.Sum(nil)),
		"content_length": r.ContentLength, "transfer_encoding": r.TransferEncoding})
}

func (p *Provider) handleSlow(w http.ResponseWriter, r *http.Request, _ grant) {
	d, err := time.ParseDuration(r.URL.Query().Get("delay"))
	if err != nil {
		d = time.Second
	}
	p.wait(r, d)
	writeJSON(w, http.StatusOK, map[string]any{"slept": d.String()})
}

func handleLimited(w http.ResponseWriter, r *http.Request, _ grant) {
	secs := r.URL.Query().Get("retry_after")
	if secs == "" {
		secs = "1"
	}
	w.Header().Set("Retry-After", secs)
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate_limited"})
}

func handleRedirect(w http.ResponseWriter, r *http.Request, _ grant) {
	http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
}

func handleEcho(w http.ResponseWriter, r *http.Request, _ grant) {
	n, _ := io.Copy(io.Discard, r.Body)
	writeJSON(w, http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.EscapedPath(), "query": r.URL.Query(),
		"header": r.Header, "body_bytes": n, "host": r.Host})
}

func handleAnswer(w http.ResponseWriter, r *http.Request, _ grant) {
	status, err := strconv.Atoi(r.URL.Query().Get("status"))
	if err != nil || status < 200 || status > 599 {
		status = http.StatusOK
	}
	for _, h := range r.URL.Query()["header"] { // Name:value
		if name, value, ok := strings.Cut(h, ":"); ok {
			w.Header().Set(name, value)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, r.URL.Query().Get("body"))
}
