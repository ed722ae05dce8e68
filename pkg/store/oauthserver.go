package store

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// OAuthServerStore keeps what Latchkey's own OAuth authorization server
// needs, per environment: its settings, groups, scopes, OAuth apps
// (clients), people's authorizations of them, and the records of the codes
// and tokens it issued. Tokens themselves are never stored: a record is
// keyed by the token's HMAC signature.
type OAuthServerStore interface {
	// GetOAuthServer returns the environment's OAuth server settings; an
	// environment that never set them has OAuth off (and zero lifetimes).
	GetOAuthServer(ctx context.Context) (latchkey.OAuthServer, error)
	// PutOAuthServer replaces the environment's OAuth server settings.
	PutOAuthServer(ctx context.Context, o latchkey.OAuthServer) (latchkey.OAuthServer, error)

	// PutOAuthGroup creates or replaces a group.
	PutOAuthGroup(ctx context.Context, g latchkey.OAuthGroup) (latchkey.OAuthGroup, error)
	// ListOAuthGroups returns every group, by name.
	ListOAuthGroups(ctx context.Context) ([]latchkey.OAuthGroup, error)
	// DeleteOAuthGroup deletes a group; one that a scope names is refused
	// with a *latchkey.Error matching ErrConflict that names the scopes.
	DeleteOAuthGroup(ctx context.Context, name string) error

	// PutOAuthScope creates or replaces a scope. Its groups must exist, else
	// an EINVALID error naming each unknown one (groups[i]).
	PutOAuthScope(ctx context.Context, s latchkey.OAuthScope) (latchkey.OAuthScope, error)
	// ListOAuthScopes returns every scope, by name.
	ListOAuthScopes(ctx context.Context) ([]latchkey.OAuthScope, error)
	// DeleteOAuthScope deletes a scope; one that an OAuth app uses is
	// refused with a *latchkey.Error matching ErrConflict that names the
	// apps.
	DeleteOAuthScope(ctx context.Context, name string) error

	// CreateOAuthClient stores a new OAuth app; a name or client id in use
	// is ErrConflict, a scope that does not exist an EINVALID error naming
	// it (scopes[i]).
	CreateOAuthClient(ctx context.Context, c latchkey.OAuthClient) (latchkey.OAuthClient, error)
	// UpdateOAuthClient replaces the label, description, redirect URI and
	// scopes of the OAuth app c.Name, keeping its client id, kind, secret
	// and icon.
	UpdateOAuthClient(ctx context.Context, c latchkey.OAuthClient) (latchkey.OAuthClient, error)
	// GetOAuthClient returns the OAuth app called name.
	GetOAuthClient(ctx context.Context, name string) (latchkey.OAuthClient, error)
	// GetOAuthClientByID returns the OAuth app whose client id is id.
	GetOAuthClientByID(ctx context.Context, id string) (latchkey.OAuthClient, error)
	// ListOAuthClients returns every OAuth app, by name.
	ListOAuthClients(ctx context.Context) ([]latchkey.OAuthClient, error)
	// DeleteOAuthClient deletes an OAuth app with its authorizations and
	// every code and token issued to it.
	//
	// Records of codes and tokens are deleted by DeleteExpired once they
	// expire.
	DeleteOAuthClient(ctx context.Context, name string) error
	// SetOAuthClientIcon stores (or, with nil, removes) an OAuth app's
	// icon, a PNG checked by the caller.
	SetOAuthClientIcon(ctx context.Context, name string, png []byte) error
	// GetOAuthClientIcon returns the icon of the OAuth app whose client id
	// is id: ErrNotFound when it has none.
	GetOAuthClientIcon(ctx context.Context, id string) ([]byte, error)

	// GrantOAuthAuthorization records that subject authorized the OAuth app
	// clientID for scopes at at: the scopes are added to the live
	// authorization of the pair, or a new one is made.
	GrantOAuthAuthorization(ctx context.Context, clientID, subject string, scopes []string, at time.Time) (latchkey.OAuthAuthorization, error)
	// FindOAuthAuthorization returns the live authorization of the OAuth
	// app clientID by subject: ErrNotFound when there is none.
	FindOAuthAuthorization(ctx context.Context, clientID, subject string) (latchkey.OAuthAuthorization, error)
	// GetOAuthAuthorization returns the authorization id, revoked or not.
	GetOAuthAuthorization(ctx context.Context, id string) (latchkey.OAuthAuthorization, error)
	// ListOAuthAuthorizations returns every authorization, newest first,
	// with its OAuth app's name.
	ListOAuthAuthorizations(ctx context.Context) ([]latchkey.OAuthAuthorization, error)
	// RevokeOAuthAuthorization marks the authorization revoked at at and
	// deactivates every code and token issued under it, in one
	// transaction.
	RevokeOAuthAuthorization(ctx context.Context, id string, at time.Time) error
	// TouchOAuthAuthorization records a use of the authorization at at.
	TouchOAuthAuthorization(ctx context.Context, id string, at time.Time) error

	// GetOAuthToken returns the record of kind under signature, active or
	// not: of the call's environment, or of any when it says none (a bearer
	// token on /api/v1, whose record names its environment).
	GetOAuthToken(ctx context.Context, kind OAuthTokenKind, signature string) (OAuthToken, error)
	// ChangeOAuthTokens makes the changes in order, in one transaction:
	// all of them, or none when one fails. A token endpoint's answer is
	// several changes (a code used, an access and a refresh token issued; or
	// a refresh token rotated and its successors issued): a failure between
	// them must not leave a client's refresh token used up with no new one.
	ChangeOAuthTokens(ctx context.Context, changes ...OAuthTokenChange) error
}

// OAuthTokenKind says what an OAuthToken record is of.
type OAuthTokenKind string

// The kinds of OAuthToken records.
const (
	OAuthCode    OAuthTokenKind = "code"
	OAuthAccess  OAuthTokenKind = "access"
	OAuthRefresh OAuthTokenKind = "refresh"
	OAuthPKCE    OAuthTokenKind = "pkce"
)

// OAuthToken is the record of a code or token Latchkey's OAuth server
// issued: the grant it belongs to, never the token.
type OAuthToken struct {
	Kind      OAuthTokenKind
	Signature string
	// Env is the environment it was issued in.
	Env latchkey.Environment
	// RequestID identifies the grant: every token of one authorization code
	// and its refreshes shares it.
	RequestID       string
	ClientID        string
	AuthorizationID string
	Subject         string
	Scopes          []string
	GrantedScopes   []string
	// Form is the request's form, URL-encoded, without any credential.
	Form string
	// Session is the server's session data (JSON).
	Session     []byte
	RequestedAt time.Time
	ExpiresAt   time.Time
	Active      bool
}

// OAuthTokenOp is what an OAuthTokenChange does.
type OAuthTokenOp string

// The changes ChangeOAuthTokens makes.
const (
	// OAuthTokenCreate stores Token, the record of an issued code or token.
	OAuthTokenCreate OAuthTokenOp = "create"
	// OAuthTokenUse marks the active record of Kind under Signature used (a
	// code exchanged, a refresh token rotated): ErrNotFound when there is
	// no active one, so that of concurrent callers one wins.
	OAuthTokenUse OAuthTokenOp = "use"
	// OAuthTokenDelete deletes the record of Kind under Signature.
	OAuthTokenDelete OAuthTokenOp = "delete"
	// OAuthTokenRevoke deactivates every record of Kind issued for the grant
	// RequestID (a token family).
	OAuthTokenRevoke OAuthTokenOp = "revoke"
)

// OAuthTokenChange is one change ChangeOAuthTokens makes.
type OAuthTokenChange struct {
	Op        OAuthTokenOp
	Kind      OAuthTokenKind
	Signature string
	RequestID string
	// Token is the record OAuthTokenCreate stores.
	Token OAuthToken
}

// CreateOAuthToken is the change that stores t.
func CreateOAuthToken(t OAuthToken) OAuthTokenChange {
	return OAuthTokenChange{Op: OAuthTokenCreate, Kind: t.Kind, Signature: t.Signature, Token: t}
}

// UseOAuthToken is the change that marks the active record of kind under
// signature used.
func UseOAuthToken(kind OAuthTokenKind, signature string) OAuthTokenChange {
	return OAuthTokenChange{Op: OAuthTokenUse, Kind: kind, Signature: signature}
}

// DeleteOAuthToken is the change that deletes the record of kind under
// signature.
func DeleteOAuthToken(kind OAuthTokenKind, signature string) OAuthTokenChange {
	return OAuthTokenChange{Op: OAuthTokenDelete, Kind: kind, Signature: signature}
}

// RevokeOAuthTokens is the change that deactivates every record of kind of
// the grant requestID.
func RevokeOAuthTokens(kind OAuthTokenKind, requestID string) OAuthTokenChange {
	return OAuthTokenChange{Op: OAuthTokenRevoke, Kind: kind, RequestID: requestID}
}
