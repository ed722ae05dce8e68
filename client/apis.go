package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// APIResponse is a provider's answer to a declared API call, passed through
// by Latchkey: the provider's status, its body, its content type and a few
// safe headers. A provider's 4xx or 5xx is an APIResponse, not an error;
// only Latchkey's own refusals (no connection, a bad parameter) are an
// *Error.
type APIResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// OK reports whether the provider answered 2xx.
func (r *APIResponse) OK() bool { return r.StatusCode >= 200 && r.StatusCode <= 299 }

// Decode decodes the body as JSON into v.
func (r *APIResponse) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("latchkey client: the provider's answer (HTTP %d, %s) is not the JSON expected: %w",
			r.StatusCode, r.Header.Get("Content-Type"), err)
	}
	return nil
}

// CallAPI calls one of the app's declared APIs (the document's apis) on the
// connection of its config, for a user of an org, or for the org itself
// when user is empty. params are the API's parameters: strings, numbers or
// booleans; nil for none.
func (c *Client) CallAPI(ctx context.Context, app, org, user, api string, params map[string]any) (*APIResponse, error) {
	s := []string{"apps", app, "orgs", org}
	if user != "" {
		s = append(s, "users", user)
	}
	if params == nil {
		params = map[string]any{}
	}
	req, err := c.newRequest(ctx, request{method: http.MethodPost, path: apiPath(append(s, "apis", api)...), body: params})
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("latchkey client: reading the answer of API %s: %w", api, err)
	}
	return &APIResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Proxy sends a request through Latchkey's passthrough proxy: method and
// path (with its query, such as "/items?page=2") under the config's
// api_base_url, with the connection's token added by Latchkey (refreshed
// first when due, and once more on a 401). body may be nil; header adds
// request headers. The provider's answer streams back as it comes: the
// caller must close its Body. Latchkey's own refusals are an *Error.
func (c *Client) Proxy(ctx context.Context, key ConnectionKey, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	p, q, _ := strings.Cut(path, "?")
	r := request{method: method, path: key.path("proxy") + "/" + strings.TrimPrefix(p, "/"), raw: body, header: header}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	req.URL.RawQuery = q
	if ct := header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return c.send(req)
}

// send sends req and turns Latchkey's own refusal (marked by the
// Latchkey-Error header) into an *Error; any other answer, the provider's,
// is returned open.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get(errorHeader) == "" {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return nil, errorOf(resp, b)
}
