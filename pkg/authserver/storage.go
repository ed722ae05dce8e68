package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// storage is fosite's storage over Latchkey's store. Every call works in
// the environment of its context, but for reading an access token, whose
// record names its environment.
type storage struct {
	store store.Store
}

// formKept are the request parameters a record keeps: what later steps of
// the protocol compare (redirect_uri) or verify (the PKCE challenge).
// Credentials (code, refresh_token, client_secret, code_verifier) are never
// written.
var formKept = []string{"client_id", "redirect_uri", "response_type", "scope", "code_challenge", "code_challenge_method"}

// Client is an OAuth app as fosite sees it, with its environment's token
// lifetimes.
type Client struct {
	*fosite.DefaultClientWithCustomTokenLifespans
	// OAuth is the OAuth app as the store keeps it.
	OAuth latchkey.OAuthClient
}

// GetClient implements fosite.ClientManager: the OAuth app of the
// environment with that client id.
func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.store.GetOAuthClientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	settings, err := s.store.GetOAuthServer(ctx)
	if err != nil {
		return nil, err
	}
	return NewClient(c, settings), nil
}

// NewClient is the fosite client of an OAuth app under settings.
func NewClient(c latchkey.OAuthClient, settings latchkey.OAuthServer) *Client {
	settings = settings.WithDefaults()
	access, refresh := time.Duration(settings.AccessTokenTTL), time.Duration(settings.RefreshTokenTTL)
	return &Client{OAuth: c, DefaultClientWithCustomTokenLifespans: &fosite.DefaultClientWithCustomTokenLifespans{
		DefaultClient: &fosite.DefaultClient{ID: c.ClientID, Secret: c.SecretHash, RedirectURIs: []string{c.RedirectURI},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scopes: c.Scopes, Public: c.Public},
		TokenLifespans: &fosite.ClientLifespanConfig{
			AuthorizationCodeGrantAccessTokenLifespan:  &access,
			AuthorizationCodeGrantRefreshTokenLifespan: &refresh,
			RefreshTokenGrantAccessTokenLifespan:       &access,
			RefreshTokenGrantRefreshTokenLifespan:      &refresh,
		},
	}}
}

// ClientAssertionJWTValid implements fosite.ClientManager; Latchkey's
// clients do not authenticate with JWTs.
func (s *storage) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT implements fosite.ClientManager.
func (s *storage) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

func (s *storage) create(ctx context.Context, kind store.OAuthTokenKind, tokenType fosite.TokenType, signature string, r fosite.Requester) error {
	sess, _ := r.GetSession().(*Session)
	if sess == nil {
		return errors.New("authserver: a request without Latchkey's session")
	}
	raw, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	form := url.Values{}
	for _, k := range formKept {
		if v := r.GetRequestForm().Get(k); v != "" {
			form.Set(k, v)
		}
	}
	expires := sess.GetExpiresAt(tokenType)
	if kind == store.OAuthPKCE {
		expires = sess.GetExpiresAt(fosite.AuthorizeCode)
	}
	if expires.IsZero() {
		expires = time.Now().Add(latchkey.DefaultRefreshTokenTTL)
	}
	return s.change(ctx, store.CreateOAuthToken(store.OAuthToken{Kind: kind, Signature: signature, RequestID: r.GetID(), ClientID: r.GetClient().GetID(),
		AuthorizationID: sess.AuthorizationID, Subject: sess.Subject, Scopes: r.GetRequestedScopes(), GrantedScopes: r.GetGrantedScopes(),
		Form: form.Encode(), Session: raw, RequestedAt: r.GetRequestedAt(), ExpiresAt: expires}))
}

// get reads a record back as a request. inactive is the error a record no
// longer active answers with (fosite wants the request with it, to revoke
// the grant's family).
func (s *storage) get(ctx context.Context, kind store.OAuthTokenKind, signature string, session fosite.Session, inactive error) (fosite.Requester, error) {
	rec, err := s.store.GetOAuthToken(ctx, kind, signature)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if session == nil {
		session = NewSession("", "", "")
	}
	if err := json.Unmarshal(rec.Session, session); err != nil {
		return nil, err
	}
	ctx = latchkey.WithEnvironment(ctx, rec.Env)
	client, err := s.GetClient(ctx, rec.ClientID)
	if err != nil {
		return nil, err
	}
	if rec.AuthorizationID != "" {
		a, err := s.store.GetOAuthAuthorization(ctx, rec.AuthorizationID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && a.RevokedAt != nil) {
			return nil, fmt.Errorf("%w: %w", fosite.ErrNotFound, errAppNotAuthorized)
		}
		if err != nil {
			return nil, err
		}
	}
	form, _ := url.ParseQuery(rec.Form)
	r := &fosite.Request{ID: rec.RequestID, RequestedAt: rec.RequestedAt, Client: client, RequestedScope: rec.Scopes, GrantedScope: rec.GrantedScopes,
		Form: form, Session: session, RequestedAudience: fosite.Arguments{}, GrantedAudience: fosite.Arguments{}}
	if !rec.Active {
		return r, inactive
	}
	return r, nil
}

func notFoundAsFosite(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// pendingKey is the context key of the changes of a token endpoint's
// transaction.
type pendingKey struct{}

// pending holds the changes fosite makes between BeginTX and Commit.
type pending struct{ changes []store.OAuthTokenChange }

// BeginTX implements storage.Transactional: the changes fosite makes until
// Commit are held, and Commit makes them in one store transaction. Without
// it a failure between "the refresh token is used" and "its successor is
// stored" would leave the client with no refresh token at all.
func (s *storage) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(pendingKey{}).(*pending); ok {
		return nil, errors.New("authserver: a transaction is open already")
	}
	return context.WithValue(ctx, pendingKey{}, &pending{}), nil
}

// Commit implements storage.Transactional. Of concurrent exchanges of one
// code or refreshes with one token, one commits; the others fail whole.
func (s *storage) Commit(ctx context.Context) error {
	p, ok := ctx.Value(pendingKey{}).(*pending)
	if !ok {
		return errors.New("authserver: Commit without BeginTX")
	}
	changes := p.changes
	p.changes = nil
	return notFoundAsFosite(s.store.ChangeOAuthTokens(ctx, changes...))
}

// Rollback implements storage.Transactional: the held changes are dropped.
func (s *storage) Rollback(ctx context.Context) error {
	if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
		p.changes = nil
	}
	return nil
}

// change makes c, or holds it for Commit inside a transaction.
func (s *storage) change(ctx context.Context, c store.OAuthTokenChange) error {
	if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
		p.changes = append(p.changes, c)
		return nil
	}
	return s.store.ChangeOAuthTokens(ctx, c)
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.OAuthCode, fosite.AuthorizeCode, signature, r)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage; a code
// used already answers fosite.ErrInvalidatedAuthorizeCode.
func (s *storage) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.OAuthCode, signature, session, fosite.ErrInvalidatedAuthorizeCode)
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
// Of concurrent exchanges of one code, one wins.
func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	return notFoundAsFosite(s.change(ctx, store.UseOAuthToken(store.OAuthCode, signature)))
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.OAuthAccess, fosite.AccessToken, signature, r)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.OAuthAccess, signature, session, fosite.ErrInactiveToken)
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.change(ctx, store.DeleteOAuthToken(store.OAuthAccess, signature))
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *storage) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return s.create(ctx, store.OAuthRefresh, fosite.RefreshToken, signature, r)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage; a rotated
// or revoked refresh token answers fosite.ErrInactiveToken, on which fosite
// revokes the grant's every token.
func (s *storage) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.OAuthRefresh, signature, session, fosite.ErrInactiveToken)
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *storage) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.change(ctx, store.DeleteOAuthToken(store.OAuthRefresh, signature))
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the refresh
// token is used up (kept inactive, so that presenting it again is seen as
// reuse). Of concurrent refreshes with one token, one wins.
func (s *storage) RotateRefreshToken(ctx context.Context, _ string, signature string) error {
	return notFoundAsFosite(s.change(ctx, store.UseOAuthToken(store.OAuthRefresh, signature)))
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage: every
// refresh token of the grant.
func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.change(ctx, store.RevokeOAuthTokens(store.OAuthRefresh, requestID))
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage: every access
// token of the grant.
func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.change(ctx, store.RevokeOAuthTokens(store.OAuthAccess, requestID))
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *storage) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.OAuthPKCE, fosite.AuthorizeCode, signature, r)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *storage) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.OAuthPKCE, signature, session, nil)
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *storage) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.change(ctx, store.DeleteOAuthToken(store.OAuthPKCE, signature))
}
