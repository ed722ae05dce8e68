package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// App is an app document: its settings, OAuth configs and APIs (seed 002's
// fields). It is pkg/latchkey's App, which parses YAML and JSON documents
// (latchkey.ParseApp) and validates them as the server does.
type App = latchkey.App

// PutOptions change how PutApp and PutAppDocument save a document.
type PutOptions struct {
	// DeleteConnections lets a document remove OAuth configs that still
	// have connections, deleting those connections (their tokens are not
	// revoked). Without it such a save is refused with CodeConflict.
	DeleteConnections bool
}

// PutResult is the outcome of saving an app document.
type PutResult struct {
	// App is the document as saved, its secret defaults redacted.
	App *App
	// Created is true when no app of the name existed before.
	Created bool
	// DeletedConnections counts the connections of removed OAuth configs
	// the save deleted (PutOptions.DeleteConnections).
	DeletedConnections int
}

// ListApps returns every app (admin keys only), secret defaults redacted.
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	var out struct {
		Apps []App `json:"apps"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apps")}, &out)
	return out.Apps, err
}

// GetApp returns the app's document, secret defaults redacted.
func (c *Client) GetApp(ctx context.Context, name string) (*App, error) {
	var out App
	if _, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apps", name)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutApp creates or replaces app.Name's document with app, as JSON. The
// server validates and compiles it whole; a refused document changes
// nothing and comes back as an *Error with CodeInvalid naming the fields.
func (c *Client) PutApp(ctx context.Context, app *App, opts *PutOptions) (*PutResult, error) {
	return c.putApp(ctx, app.Name, request{body: app}, opts)
}

// PutAppDocument creates or replaces the app name with a document as
// written, YAML or JSON: contentType is "application/yaml" or
// "application/json" (the latter when empty). `latchkey apply` sends files
// this way, so the server sees them byte for byte.
func (c *Client) PutAppDocument(ctx context.Context, name string, doc []byte, contentType string, opts *PutOptions) (*PutResult, error) {
	if contentType == "" {
		contentType = "application/json"
	}
	return c.putApp(ctx, name, request{raw: bytes.NewReader(doc), contentType: contentType}, opts)
}

func (c *Client) putApp(ctx context.Context, name string, r request, opts *PutOptions) (*PutResult, error) {
	r.method, r.path = http.MethodPut, apiPath("apps", name)
	if opts != nil && opts.DeleteConnections {
		r.query = url.Values{"delete_connections": {"true"}}
	}
	var saved App
	resp, err := c.do(ctx, r, &saved)
	if err != nil {
		return nil, err
	}
	res := &PutResult{App: &saved, Created: resp.StatusCode == http.StatusCreated}
	if n := resp.Header.Get("Latchkey-Deleted-Connections"); n != "" {
		res.DeletedConnections, _ = strconv.Atoi(n)
	}
	return res, nil
}

// DeleteApp deletes an app with its installations and connections.
func (c *Client) DeleteApp(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("apps", name)}, nil)
	return err
}

// CreateAppFromProvider creates an app from an entry of the server's
// provider catalog (such as "github"), named name (the entry's name when
// empty). It never replaces an app: an existing name is CodeConflict.
func (c *Client) CreateAppFromProvider(ctx context.Context, entry, name string) (*App, error) {
	var out App
	body := map[string]string{}
	if name != "" {
		body["name"] = name
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("providers", entry, "app"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
