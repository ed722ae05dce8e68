// Package authserver is Latchkey's own OAuth 2 authorization server, for
// its API (seed 000, the provider side): the authorization code grant with
// PKCE, refresh tokens that rotate (presenting a rotated one revokes its
// whole family, RFC 9700 §4.14.2), RFC 7009 revocation and RFC 7662
// introspection. The protocol is ory/fosite's; this package gives it
// Latchkey's store, clients and token format, and says the seed's errors in
// the seed's words. It works on net/http requests and knows no HTTP
// framework; the HTTP API mounts it per environment.
package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/hmac"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Token prefixes: they tell an access token from an API key at a glance,
// and let secret scanners find leaked ones.
const (
	AccessTokenPrefix  = "lkat_"
	RefreshTokenPrefix = "lkrt_"
	CodePrefix         = "lkac_"
)

// Server is the authorization server of every environment: one fosite
// provider whose storage reads the environment from the request's context
// (latchkey.WithEnvironment).
type Server struct {
	// Provider is fosite's: the HTTP API hands it requests and writes its
	// answers.
	Provider fosite.OAuth2Provider
	store    store.Store
	strategy *tokenStrategy
}

// Options tune a Server.
type Options struct {
	// CodeTTL is how long an authorization code lives; 0 means
	// latchkey.AuthorizationCodeTTL (60 s).
	CodeTTL time.Duration
}

// New builds the server over st. secret (at least 32 bytes) signs codes and
// tokens; every replica on one database must use the same.
func New(st store.Store, secret []byte, opts Options) (*Server, error) {
	if len(secret) < 32 {
		return nil, errors.New("authserver: the token secret needs at least 32 bytes")
	}
	if opts.CodeTTL <= 0 {
		opts.CodeTTL = latchkey.AuthorizationCodeTTL
	}
	cfg := &fosite.Config{
		AccessTokenLifespan:         latchkey.DefaultAccessTokenTTL,
		RefreshTokenLifespan:        latchkey.DefaultRefreshTokenTTL,
		AuthorizeCodeLifespan:       opts.CodeTTL,
		GlobalSecret:                secret[:32],
		ScopeStrategy:               fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:    fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients: true,
		// RFC 9700 §2.1.1: only S256.
		EnablePKCEPlainChallengeMethod: false,
		// Every grant gets a refresh token; no "offline" scope is needed.
		RefreshTokenScopes:  []string{},
		ClientSecretsHasher: sha256Hasher{},
		// Loopback redirects of native apps (RFC 8252 §7.3) may be http.
		RedirectSecureChecker: fosite.IsRedirectURISecureStrict,
		TokenEntropy:          32,
		MinParameterEntropy:   fosite.MinParameterEntropy,
	}
	strategy := &tokenStrategy{HMACSHAStrategyUnPrefixed: oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: cfg}, cfg)}
	storage := &storage{store: st}
	provider := compose.Compose(cfg, storage, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2PKCEFactory,
	)
	return &Server{Provider: provider, store: st, strategy: strategy}, nil
}

// Grant is what an access token stands for.
type Grant struct {
	Env             latchkey.Environment
	ClientID        string
	Subject         string
	AuthorizationID string
	Scopes          []string
	ExpiresAt       time.Time
}

// ErrInvalidToken is the answer to an access token that is not one of this
// server's, has expired, or was revoked (with its authorization).
var ErrInvalidToken = errors.New("the access token is not valid, has expired or was revoked")

// IsAccessToken reports whether s has the form of this server's access
// tokens (it may still be invalid).
func IsAccessToken(s string) bool { return strings.HasPrefix(s, AccessTokenPrefix) }

// Introspect checks an access token and returns its grant, in whichever
// environment it was issued. The authorization it was issued under must
// still be live: the storage checks that as it reads the token's record.
func (s *Server) Introspect(ctx context.Context, token string) (Grant, error) {
	if !IsAccessToken(token) {
		return Grant{}, ErrInvalidToken
	}
	sess := NewSession("", "", "")
	_, ar, err := s.Provider.IntrospectToken(ctx, token, fosite.AccessToken, sess)
	if err != nil {
		if isStorageFault(err) {
			return Grant{}, err
		}
		return Grant{}, ErrInvalidToken
	}
	got, ok := ar.GetSession().(*Session)
	if !ok {
		return Grant{}, ErrInvalidToken
	}
	g := Grant{Env: latchkey.Environment(got.Env), ClientID: ar.GetClient().GetID(), Subject: got.Subject, AuthorizationID: got.AuthorizationID,
		Scopes: ar.GetGrantedScopes(), ExpiresAt: got.GetExpiresAt(fosite.AccessToken)}
	return g, nil
}

// isStorageFault tells a failure of the store (to be reported as such) from
// a token that is simply not valid.
func isStorageFault(err error) bool {
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		return rfc.ErrorField == fosite.ErrServerError.ErrorField
	}
	return false
}

// Session is what the server keeps with every code and token: who
// authorized it (Subject, an admin's email), under which authorization and
// in which environment.
type Session struct {
	fosite.DefaultSession
	AuthorizationID string `json:"authorization_id"`
	Env             string `json:"env"`
}

// NewSession returns the session of a grant by subject under authorization
// id in env.
func NewSession(subject, authorizationID string, env latchkey.Environment) *Session {
	return &Session{DefaultSession: fosite.DefaultSession{Subject: subject, ExpiresAt: map[fosite.TokenType]time.Time{}},
		AuthorizationID: authorizationID, Env: string(env)}
}

// Clone implements fosite.Session.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.DefaultSession = *s.DefaultSession.Clone().(*fosite.DefaultSession)
	return &c
}

// tokenStrategy is fosite's HMAC strategy with Latchkey's prefixes.
type tokenStrategy struct {
	*oauth2.HMACSHAStrategyUnPrefixed
}

func (t *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	token, sig, err := t.HMACSHAStrategyUnPrefixed.GenerateAccessToken(ctx, r)
	return AccessTokenPrefix + token, sig, err
}

func (t *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	return t.HMACSHAStrategyUnPrefixed.ValidateAccessToken(ctx, r, strings.TrimPrefix(token, AccessTokenPrefix))
}

func (t *tokenStrategy) GenerateRefreshToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	token, sig, err := t.HMACSHAStrategyUnPrefixed.GenerateRefreshToken(ctx, r)
	return RefreshTokenPrefix + token, sig, err
}

func (t *tokenStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	return t.HMACSHAStrategyUnPrefixed.ValidateRefreshToken(ctx, r, strings.TrimPrefix(token, RefreshTokenPrefix))
}

func (t *tokenStrategy) GenerateAuthorizeCode(ctx context.Context, r fosite.Requester) (string, string, error) {
	token, sig, err := t.HMACSHAStrategyUnPrefixed.GenerateAuthorizeCode(ctx, r)
	return CodePrefix + token, sig, err
}

func (t *tokenStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	return t.HMACSHAStrategyUnPrefixed.ValidateAuthorizeCode(ctx, r, strings.TrimPrefix(token, CodePrefix))
}

// sha256Hasher hashes client secrets, which Latchkey generates with 256
// bits of entropy: a slow password hash adds nothing to such a secret, and
// would cost every token request tens of milliseconds.
type sha256Hasher struct{}

// HashSecret returns the stored form of a client secret.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

func (sha256Hasher) Compare(_ context.Context, hash, data []byte) error {
	sum := sha256.Sum256(data)
	if len(hash) != len(sum) || subtle.ConstantTimeCompare(hash, sum[:]) != 1 {
		return fosite.ErrInvalidClient
	}
	return nil
}

func (sha256Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return sum[:], nil
}
