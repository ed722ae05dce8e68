package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ConnectionKey names a connection: an app's OAuth config connected for a
// user of an org, or for the org itself when User is empty (client
// credentials).
type ConnectionKey struct {
	App    string `json:"app"`
	Org    string `json:"org"`
	User   string `json:"user,omitempty"`
	Config string `json:"config"`
}

// path is the connection's route under /api/v1, then more segments.
func (k ConnectionKey) path(more ...string) string {
	s := []string{"apps", k.App, "orgs", k.Org}
	if k.User != "" {
		s = append(s, "users", k.User)
	}
	s = append(s, "connections", k.Config)
	return apiPath(append(s, more...)...)
}

// Connection statuses.
const (
	StatusActive        = "active"         // tokens are stored and usable or refreshable
	StatusExpired       = "expired"        // the access token expired and cannot be refreshed
	StatusNeedsReauth   = "needs_reauth"   // the provider refused the refresh token; the user must connect again
	StatusRefreshFailed = "refresh_failed" // refreshing failed too many times in a row
)

// Connection is a connection as listed: its state, never its tokens.
type Connection struct {
	ConnectionKey
	Status        string    `json:"status"`
	TokenType     string    `json:"token_type,omitempty"`
	Scope         string    `json:"scope,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	Version       int64     `json:"version"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	RefreshedAt   time.Time `json:"refreshed_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	KeepAliveAt   time.Time `json:"keep_alive_at,omitzero"`
	Failures      int       `json:"failures,omitempty"`
}

// Token is a connection with a usable access token, as a backend reads it:
// the server refreshes the token first when it has expired or is about to
// (RFC 6749 §6).
type Token struct {
	ConnectionKey
	Status      string `json:"status"`
	AccessToken string `json:"access_token"`
	// TokenType is the provider's token_type (RFC 6749 §5.1), often "Bearer".
	TokenType string `json:"token_type,omitempty"`
	Scope     string `json:"scope,omitempty"`
	// ExpiresAt is when the access token expires; nil when the provider
	// did not say.
	ExpiresAt   *time.Time `json:"expires_at"`
	RefreshedAt time.Time  `json:"refreshed_at,omitzero"`
}

// LinkOptions are the optional parts of a connect link.
type LinkOptions struct {
	// ReturnTo is where the user's browser goes after the flow; it must
	// start with one of the app's allowed_return_urls.
	ReturnTo string `json:"return_to,omitempty"`
	// Popup makes the result page post its outcome to the page that opened
	// it (the connect SDK's connect()) and close.
	Popup bool `json:"popup,omitempty"`
}

// Link is a single-use, short-lived link to the landing page where the
// user allows access. Its URL holds a secret token: hand it to the user's
// browser only.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateLink creates a connect link for a user (key.User must be set).
func (c *Client) CreateLink(ctx context.Context, key ConnectionKey, opts *LinkOptions) (*Link, error) {
	if opts == nil {
		opts = &LinkOptions{}
	}
	var out Link
	if _, err := c.do(ctx, request{method: http.MethodPost, path: key.path("link"), body: opts}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Token returns the connection with a usable access token. A connection
// that must be authorized again is an *Error with CodeNeedsReauth; one
// whose refresh fails for now, CodeRefreshPending.
func (c *Client) Token(ctx context.Context, key ConnectionKey) (*Token, error) {
	var out Token
	if _, err := c.do(ctx, request{method: http.MethodGet, path: key.path()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Disconnection is the outcome of DeleteConnection. It is the zero value
// when the server answered 204 No Content, the usual outcome.
type Disconnection struct {
	// Revoked is true when the provider was asked to revoke the token
	// (RFC 7009 §2) and accepted.
	Revoked bool `json:"revoked"`
	// Notice, when set, says why the token was not revoked although the
	// connection was deleted.
	Notice string `json:"notice,omitempty"`
}

// DeleteConnection disconnects a user's connection, revoking its token at
// the provider when the config says how. force deletes it even when the
// provider refuses the revocation.
func (c *Client) DeleteConnection(ctx context.Context, key ConnectionKey, force bool) (*Disconnection, error) {
	r := request{method: http.MethodDelete, path: key.path()}
	if force {
		r.query = url.Values{"force": {"true"}}
	}
	var out Disconnection
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListConnections lists an app's connections; org, when not empty, keeps
// one org's.
func (c *Client) ListConnections(ctx context.Context, app, org string) ([]Connection, error) {
	r := request{method: http.MethodGet, path: apiPath("apps", app, "connections")}
	if org != "" {
		r.query = url.Values{"org": {org}}
	}
	var out struct {
		Connections []Connection `json:"connections"`
	}
	_, err := c.do(ctx, r, &out)
	return out.Connections, err
}

// SettingValue is a setting resolved for a user.
type SettingValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Level is "org" or "user".
	Level string `json:"level"`
	// Source says where the value came from: user, org, config or default.
	Source string `json:"source"`
}

// Setting resolves a setting for a user of an org: the user's value over
// the org's over a value fixed in an OAuth config over the default.
func (c *Client) Setting(ctx context.Context, app, org, user, name string) (*SettingValue, error) {
	var out SettingValue
	if _, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apps", app, "orgs", org, "users", user, "settings", name)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verification is the outcome of VerifyConnection.
type Verification struct {
	API    string `json:"api"`
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// Stored names the settings filled from the answer, never their values.
	Stored []string `json:"stored,omitempty"`
}

// VerifyConnection calls the config's verify_api with the connection's
// token, as the builder UI's Test connection does.
func (c *Client) VerifyConnection(ctx context.Context, key ConnectionKey) (*Verification, error) {
	var out Verification
	if _, err := c.do(ctx, request{method: http.MethodPost, path: key.path("verify")}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
