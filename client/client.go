package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls one Latchkey server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	key   string
	hc    *http.Client
	agent string
}

// Option configures a Client made by New.
type Option func(*Client)

// WithAPIKey sends key as the Bearer credential of every request
// (Authorization: Bearer, RFC 6750 §2.1). An admin key manages apps, keys
// and webhooks; a runtime key reads one app's connections and calls its APIs.
func WithAPIKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient sends the requests through hc instead of
// http.DefaultClient: for timeouts, a proxy, or a transport of one's own.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// New returns a Client of the Latchkey server at baseURL (such as
// "http://127.0.0.1:8080"; a path prefix is kept, for a server behind a
// reverse proxy under one).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("latchkey client: the base URL %q is not an absolute http or https URL", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("latchkey client: the base URL must not carry credentials, a query or a fragment")
	}
	c := &Client{base: u, hc: http.DefaultClient, agent: "latchkey-go-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the server's URL, as New was given it (without a trailing
// slash).
func (c *Client) BaseURL() string { return c.base.String() }

// maxAnswer bounds the JSON answers read, as the server bounds requests.
const maxAnswer = 8 << 20

// path joins escaped path segments under /api/v1.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	// body is sent as JSON unless raw is set.
	body        any
	raw         io.Reader
	contentType string
	header      http.Header
}

// newRequest builds the HTTP request of r.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	u, err := url.Parse(c.base.String() + r.path)
	if err != nil {
		return nil, fmt.Errorf("latchkey client: %w", err)
	}
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	ct := r.contentType
	switch {
	case r.raw != nil:
		body = r.raw
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("latchkey client: %w", err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("latchkey client: %w", err)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	return req, nil
}

// do sends r and decodes a 2xx JSON answer into out (when out is not nil);
// any other answer is an *Error. It returns the response, its body closed.
func (c *Client) do(ctx context.Context, r request, out any) (*http.Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp, fmt.Errorf("latchkey client: reading the answer to %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, errorOf(resp, body)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(body, out); err != nil {
			return resp, fmt.Errorf("latchkey client: the answer to %s %s is not the JSON expected: %w", r.method, r.path, err)
		}
	}
	return resp, nil
}
