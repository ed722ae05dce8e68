package client

import (
	"context"
	"net/http"
	"time"
)

// API key scopes.
const (
	ScopeAdmin   = "admin"   // manages every app
	ScopeRuntime = "runtime" // reads one app's settings and connections, calls its APIs
)

// APIKey is an API key as listed: never its secret.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name,omitempty"`
	Scope     string     `json:"scope"`
	App       string     `json:"app,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// LastUsedAt is when the key last authenticated a request, to within
	// a minute; nil for a key never used.
	LastUsedAt *time.Time `json:"last_used_at"`
}

// NewAPIKey is a created API key and the key itself, shown this once.
type NewAPIKey struct {
	APIKey APIKey `json:"api_key"`
	Key    string `json:"key"`
}

// ListAPIKeys lists the API keys, revoked ones included.
func (c *Client) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	var out struct {
		APIKeys []APIKey `json:"api_keys"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apikeys")}, &out)
	return out.APIKeys, err
}

// CreateAPIKey creates a key of scope (ScopeAdmin, or ScopeRuntime for the
// one app it reads), with a name to recognise it by.
func (c *Client) CreateAPIKey(ctx context.Context, scope, app, name string) (*NewAPIKey, error) {
	var out NewAPIKey
	body := map[string]string{"scope": scope, "app": app, "name": name}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("apikeys"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAPIKey revokes a key: it is refused from then on.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("apikeys", id)}, nil)
	return err
}
