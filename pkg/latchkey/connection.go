package latchkey

import "time"

// ConnectionStatus is the state of a user's (or, for client credentials, an
// org's) connection to a provider through one OAuth config.
type ConnectionStatus string

// Connection statuses.
const (
	StatusActive        ConnectionStatus = "active"         // tokens are stored and usable or refreshable
	StatusExpired       ConnectionStatus = "expired"        // the access token expired and cannot be refreshed
	StatusNeedsReauth   ConnectionStatus = "needs_reauth"   // the provider refused the refresh token; the user must connect again
	StatusRefreshFailed ConnectionStatus = "refresh_failed" // refreshing failed too many times in a row
)

// ConnectionKey identifies a connection. User is empty for an org-level
// connection (client credentials).
type ConnectionKey struct {
	App    string `json:"app"`
	Org    string `json:"org"`
	User   string `json:"user,omitempty"`
	Config string `json:"config"`
}

// Connection is what a completed flow leaves: the tokens, stored as the
// settings an OAuth config's variable names name, and their state.
type Connection struct {
	ConnectionKey
	Status    ConnectionStatus `json:"status"`
	TokenType string           `json:"token_type,omitempty"`
	Scope     string           `json:"scope,omitempty"`
	// ExpiresAt is when the access token expires; zero means unknown (the
	// provider sent no expires_in).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Values are the settings this connection owns, by name: its tokens and
	// captured metadata. They are encrypted at rest and never listed.
	Values map[string]string `json:"-"`
	// Version increases with every write; updates check it.
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
	// LastError is the last refresh failure, as the provider said it.
	LastError string `json:"last_error,omitempty"`
	// NextAttemptAt is when a refresh that failed for a passing reason
	// (network, timeout, 429, 5xx) may be tried again; zero when none failed.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// RefreshingUntil, while in the future, says one caller is refreshing
	// the connection: others wait for its answer instead of refreshing too.
	RefreshingUntil time.Time `json:"-"`
	// WorkerLease says the refresh lease was taken by the refresh worker's
	// batch claim, so the provider may not have been asked: a worker killed
	// after a claim leaves a whole batch leased, most of it never sent. It
	// is false for a lease a read takes immediately before asking.
	WorkerLease bool `json:"-"`
	// KeepAliveAt, when set, is when the refresh worker refreshes the
	// connection even though its access token is still valid, so that its
	// refresh token does not lapse unused (OAuthConfig.KeepAliveInterval).
	KeepAliveAt time.Time `json:"keep_alive_at,omitzero"`
	// Failures counts refresh failures since the last success.
	Failures int `json:"failures,omitempty"`
}

// Expired reports whether the access token expires within margin of now. A
// token with no known expiry never counts as expired.
func (c *Connection) Expired(now time.Time, margin time.Duration) bool {
	return !c.ExpiresAt.IsZero() && !now.Add(margin).Before(c.ExpiresAt)
}

// KeepAliveDue reports whether the connection is due for a keep-alive
// refresh at now.
func (c *Connection) KeepAliveDue(now time.Time) bool {
	return !c.KeepAliveAt.IsZero() && !now.Before(c.KeepAliveAt)
}

// Link is a pending invitation for a user to connect: the short-lived,
// single-use URL of the landing page where the user allows access.
type Link struct {
	ConnectionKey
	// Env is the environment the link belongs to (filled in by the store).
	Env       Environment `json:"environment,omitempty"`
	ReturnTo  string      `json:"return_to,omitempty"`
	Popup     bool        `json:"popup,omitempty"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// AuthState is what Latchkey remembers between sending a user to the
// provider and the provider's callback (RFC 6749 §10.12). It is bound to one
// connection key and taken once.
type AuthState struct {
	ConnectionKey
	// Env is the environment the state belongs to (filled in by the
	// store): one callback URL serves every environment.
	Env          Environment `json:"environment,omitempty"`
	ReturnTo     string      `json:"return_to,omitempty"`
	Popup        bool        `json:"popup,omitempty"`
	RedirectURI  string      `json:"redirect_uri,omitempty"`
	CodeVerifier string      `json:"-"`
	ExpiresAt    time.Time   `json:"expires_at"`
	// BrowserHash is the hex SHA-256 of the nonce held in a cookie of the
	// browser that pressed Allow: the callback must come from that browser
	// (RFC 6749 §10.12, RFC 9700 §4.7.1).
	BrowserHash string `json:"-"`
}

// Installation is an org's installation of an app: its org-level values.
type Installation struct {
	App       string            `json:"app"`
	Org       string            `json:"org"`
	Values    map[string]string `json:"values"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
}

// API key scopes.
const (
	ScopeAdmin   = "admin"   // manages every app
	ScopeRuntime = "runtime" // reads one app's settings and connections
)

// APIKey is a credential of the /api/v1 routes. Only a hash of its secret is
// stored; the whole key is shown once, when it is created.
type APIKey struct {
	ID string `json:"id"`
	// Env is the one environment the key acts in.
	Env       Environment `json:"environment"`
	Name      string      `json:"name,omitempty"`
	Scope     string      `json:"scope"`
	App       string      `json:"app,omitempty"`
	Hash      []byte      `json:"-"`
	CreatedAt time.Time   `json:"created_at"`
	RevokedAt *time.Time  `json:"revoked_at,omitempty"`
	// LastUsedAt is when the key last authenticated a request, to within
	// APIKeyUseResolution; nil for a key never used.
	LastUsedAt *time.Time `json:"last_used_at"`
}

// APIKeyUseResolution is how precisely an API key's LastUsedAt is kept: a
// use is written only when the one stored is older, so that a busy key
// does not write on every request.
const APIKeyUseResolution = time.Minute

// CanRead reports whether the key may read the runtime data of app.
func (k *APIKey) CanRead(app string) bool {
	return k.RevokedAt == nil && (k.Scope == ScopeAdmin || (k.Scope == ScopeRuntime && k.App == app))
}

// IsAdmin reports whether the key may manage apps.
func (k *APIKey) IsAdmin() bool { return k.RevokedAt == nil && k.Scope == ScopeAdmin }
