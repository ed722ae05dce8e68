package httpapi

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/pkg/authserver"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Latchkey's own OAuth server, per environment (issue 14, seed 000):
//
//	GET|POST /{env}/oauth/authorize                       the authorization page
//	POST     /{env}/oauth/token                           the token endpoint
//	POST     /{env}/oauth/revoke                          RFC 7009
//	POST     /{env}/oauth/introspect                      RFC 7662
//	GET      /.well-known/oauth-authorization-server/{env}/oauth   RFC 8414
//	GET      /{env}/oauth/apps/{client_id}/icon           an OAuth app's icon
//
// The issuer of an environment is {public URL}/{env}/oauth.
func (s *Server) oauthServerRoutes(e *echo.Echo) {
	e.GET("/:env/oauth/authorize", s.oauthAuthorize)
	e.POST("/:env/oauth/authorize", s.oauthAuthorize)
	e.POST("/:env/oauth/token", s.oauthToken)
	e.POST("/:env/oauth/revoke", s.oauthRevoke)
	e.POST("/:env/oauth/introspect", s.oauthIntrospect)
	e.GET("/.well-known/oauth-authorization-server/:env/oauth", s.oauthMetadata)
	e.GET("/:env/oauth/apps/:client_id/icon", s.oauthIcon)
}

// oauthProvider is the authorization server, built on first use: its
// token secret is a server secret in the store, shared by every replica.
type oauthProvider struct {
	mu  sync.Mutex
	srv *authserver.Server
}

func (s *Server) authServer(c echo.Context) (*authserver.Server, error) {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	if s.oauth.srv != nil {
		return s.oauth.srv, nil
	}
	secret, err := s.serverSecret(c, "oauth-tokens")
	if err != nil {
		return nil, err
	}
	srv, err := authserver.New(s.store, secret, authserver.Options{})
	if err != nil {
		return nil, err
	}
	s.oauth.srv = srv
	return srv, nil
}

// oauthEnv reads the environment of an OAuth server route, and its
// settings; the request then acts in it.
func (s *Server) oauthEnv(c echo.Context) (latchkey.EnvironmentInfo, latchkey.OAuthServer, error) {
	name := latchkey.Environment(c.Param("env"))
	notFound := latchkey.Errorf(latchkey.ENOTFOUND, "environment %q not found", c.Param("env"))
	if !name.Valid() {
		return latchkey.EnvironmentInfo{}, latchkey.OAuthServer{}, notFound
	}
	info, err := s.store.GetEnvironment(c.Request().Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return info, latchkey.OAuthServer{}, notFound
	}
	if err != nil {
		return info, latchkey.OAuthServer{}, err
	}
	s.actIn(c, name)
	settings, err := s.store.GetOAuthServer(c.Request().Context())
	return info, settings.WithDefaults(), err
}

// issuer is the issuer identifier of env's OAuth server (RFC 8414 §2).
func (s *Server) issuer(c echo.Context, info latchkey.EnvironmentInfo) string {
	base := info.PublicURL
	if base == "" && s.engine != nil {
		base = s.engine.PublicURL()
	}
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(string(info.Name)) + "/oauth"
}

// authorizePage is what the consent form shows.
type authorizePage struct {
	Label, Description, IconURL, Subject, Env, Action, CSRF, RedirectHost string
	Scopes                                                                []latchkey.OAuthScope
}

// oauthAuthorize is the authorization page: fosite checks the request
// (client, exact redirect URI, scopes, PKCE); a person not signed in signs
// in first and comes back; a live authorization that covers the scopes
// answers at once, else the consent form asks.
func (s *Server) oauthAuthorize(c echo.Context) error {
	info, settings, err := s.oauthEnv(c)
	if err != nil {
		return err
	}
	if !settings.Enabled {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "OAuth is not enabled in environment %q: an admin turns it on in the OAuth server settings", info.Name)
	}
	as, err := s.authServer(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w := &issWriter{ResponseWriter: c.Response(), iss: s.issuer(c, info)}
	ar, err := as.Provider.NewAuthorizeRequest(ctx, c.Request())
	if err != nil {
		if ar != nil && ar.IsRedirectURIValid() {
			as.Provider.WriteAuthorizeError(ctx, w, ar, err)
			return nil
		}
		return authorizeRefusal(err)
	}
	client := ar.GetClient().(*authserver.Client).OAuth
	scopes := []string(ar.GetRequestedScopes())
	if len(scopes) == 0 {
		scopes = client.Scopes // RFC 6749 §3.3: the OAuth app's scopes by default
	}

	// The person: a signed-in admin of the builder UI.
	sessionID, sess, ok := s.signedIn(c)
	if !ok {
		if c.Request().Method != http.MethodGet {
			return latchkey.Errorf(latchkey.EUNAUTHORIZED, "Unauthorized. User login is required: sign in and authorize the app again")
		}
		return c.Redirect(http.StatusSeeOther, "/ui/?"+url.Values{"next": {c.Request().URL.RequestURI()}}.Encode())
	}

	grant := func() error {
		a, err := s.store.GrantOAuthAuthorization(ctx, client.ClientID, sess.Email, scopes, s.now())
		if err != nil {
			return err
		}
		for _, sc := range scopes {
			ar.GrantScope(sc)
		}
		resp, err := as.Provider.NewAuthorizeResponse(ctx, ar, authserver.NewSession(sess.Email, a.ID, info.Name))
		if err != nil {
			as.Provider.WriteAuthorizeError(ctx, w, ar, err)
			return nil
		}
		as.Provider.WriteAuthorizeResponse(ctx, w, ar, resp)
		return nil
	}

	if c.Request().Method == http.MethodPost {
		want, err := s.csrfToken(c, sessionID)
		if err != nil {
			return err
		}
		if got := c.FormValue("csrf_token"); got == "" || !hmac.Equal([]byte(got), []byte(want)) {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "the form is stale or did not come from this page: open the authorization page again")
		}
		ev := latchkey.AuditEvent{Actor: adminActorPrefix + sess.Email, Action: latchkey.AuditOAuthDeny, Detail: "OAuth app " + client.Name}
		if c.FormValue("consent") != "allow" {
			s.audit.record(ctx, ev)
			as.Provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithDescription("The user denied the request."))
			return nil
		}
		ev.Action, ev.Detail = latchkey.AuditOAuthAuthorize, "OAuth app "+client.Name+" scopes "+strings.Join(scopes, " ")
		s.audit.record(ctx, ev)
		return grant()
	}

	if a, err := s.store.FindOAuthAuthorization(ctx, client.ClientID, sess.Email); err == nil && a.Covers(scopes) {
		return grant()
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	csrf, err := s.csrfToken(c, sessionID)
	if err != nil {
		return err
	}
	all, err := s.store.ListOAuthScopes(ctx)
	if err != nil {
		return err
	}
	page := authorizePage{Label: client.Label, Description: client.Description, Subject: sess.Email, Env: string(info.Name),
		IconURL: "/" + url.PathEscape(string(info.Name)) + "/oauth/apps/" + url.PathEscape(client.ClientID) + "/icon",
		Action:  c.Request().URL.RequestURI(), CSRF: csrf}
	if u, err := url.Parse(client.RedirectURI); err == nil {
		page.RedirectHost = u.Host
	}
	for _, sc := range all {
		if slices.Contains(scopes, sc.Name) {
			page.Scopes = append(page.Scopes, sc)
		}
	}
	return s.render(c, http.StatusOK, "authorize.html", page)
}

// authorizeRefusal is the page of an authorization request that cannot be
// sent back to its OAuth app (an unknown client, a redirect URI that is not
// the registered one): RFC 6749 §4.1.2.1 forbids redirecting it.
func authorizeRefusal(err error) error {
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		if rfc.ErrorField == fosite.ErrServerError.ErrorField {
			return err
		}
		msg := rfc.GetDescription()
		if errors.Is(err, fosite.ErrNotFound) || rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
			msg = "Invalid client ID. Double-check the accuracy of the client ID."
		}
		return latchkey.Errorf(latchkey.EBADREQUEST, "%s", msg)
	}
	return err
}

// signedIn returns the session of the builder UI's cookie, if any.
func (s *Server) signedIn(c echo.Context) (string, store.Session, bool) {
	cookie, err := c.Cookie(SessionCookie)
	if err != nil || !latchkey.ValidToken(cookie.Value) {
		return "", store.Session{}, false
	}
	sess, err := s.store.GetSession(c.Request().Context(), cookie.Value, s.now())
	if err != nil {
		return "", store.Session{}, false
	}
	return cookie.Value, sess, true
}

// issWriter adds the issuer to every redirect of the authorization
// endpoint, success or error (RFC 9207), so that a client talking to
// several servers can tell which one answered.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w *issWriter) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); loc != "" && status >= 300 && status < 400 {
		if u, err := url.Parse(loc); err == nil {
			q := u.Query()
			q.Set("iss", w.iss)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// tokenGrantTypes are the grant types the token endpoint takes.
var tokenGrantTypes = []string{"authorization_code", "refresh_token"}

// oauthToken is the token endpoint. Besides RFC 6749's form body it takes
// the seed's style, with the parameters in the query string, and for a
// refresh the refresh token as code; neither is ever logged (the request
// log names the route, not the URL).
func (s *Server) oauthToken(c echo.Context) error {
	noStore(c)
	info, _, ok, err := s.jsonEndpointEnv(c)
	if !ok {
		return err
	}
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return writeTokenError(c, &authserver.TokenError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "The form body cannot be read.", Cause: err})
	}
	for k, v := range r.URL.Query() { // the seed's query-string style
		if _, ok := r.PostForm[k]; !ok {
			r.PostForm[k] = v
		}
	}
	form := r.PostForm
	grantType := form.Get("grant_type")
	if grantType == "refresh_token" && form.Get("refresh_token") == "" && form.Get("code") != "" {
		form.Set("refresh_token", form.Get("code"))
	}
	_, _, basic := r.BasicAuth()
	switch {
	case !slices.Contains(tokenGrantTypes, grantType):
		return writeTokenError(c, authserver.ErrInvalidGrantType)
	case grantType == "authorization_code" && form.Get("code") == "", grantType == "refresh_token" && form.Get("refresh_token") == "":
		return writeTokenError(c, authserver.ErrTokenMissing)
	}
	as, err := s.authServer(c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ar, err := as.Provider.NewAccessRequest(ctx, r, authserver.NewSession("", "", info.Name))
	if err != nil {
		te := authserver.TokenErrorOf(err, grantType, basic)
		if te == authserver.ErrRefreshReused || te.Description == authserver.ErrRefreshReused.Description {
			s.audit.record(ctx, latchkey.AuditEvent{Actor: "oauth:" + form.Get("client_id"), Action: latchkey.AuditOAuthRefreshReuse, Detail: "a rotated refresh token was presented: its grant is revoked"})
		}
		return writeTokenError(c, te)
	}
	resp, err := as.Provider.NewAccessResponse(ctx, ar)
	if err != nil {
		return writeTokenError(c, authserver.TokenErrorOf(err, grantType, basic))
	}
	if sess, ok := ar.GetSession().(*authserver.Session); ok {
		s.audit.record(ctx, latchkey.AuditEvent{Actor: adminActorPrefix + sess.Subject, Action: latchkey.AuditOAuthTokenIssue,
			Detail: "OAuth app " + ar.GetClient().(*authserver.Client).OAuth.Name + " grant " + grantType})
	}
	as.Provider.WriteAccessResponse(ctx, c.Response(), ar, resp)
	return nil
}

// writeTokenError answers a failed token request as RFC 6749 §5.2 says,
// with the cause in the log only.
func writeTokenError(c echo.Context, te *authserver.TokenError) error {
	if te.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="latchkey"`)
	}
	if te.Cause != nil {
		c.Set(oauthCauseKey, te.Cause)
	}
	noStore(c)
	return c.JSON(te.Status, te)
}

const oauthCauseKey = "latchkey.oauth.cause"

// oauthRevoke is RFC 7009's revocation endpoint: a client revokes one of
// its own tokens (a refresh token with its whole grant).
func (s *Server) oauthRevoke(c echo.Context) error {
	if _, _, ok, err := s.jsonEndpointEnv(c); !ok {
		return err
	}
	as, err := s.authServer(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	err = as.Provider.NewRevocationRequest(ctx, c.Request())
	as.Provider.WriteRevocationResponse(ctx, c.Response(), err)
	return nil
}

// oauthIntrospect is RFC 7662's introspection endpoint, for confidential
// clients (HTTP Basic) and bearers of an access token.
func (s *Server) oauthIntrospect(c echo.Context) error {
	if _, _, ok, err := s.jsonEndpointEnv(c); !ok {
		return err
	}
	as, err := s.authServer(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ir, err := as.Provider.NewIntrospectionRequest(ctx, c.Request(), authserver.NewSession("", "", ""))
	if err != nil {
		as.Provider.WriteIntrospectionError(ctx, c.Response(), err)
		return nil
	}
	as.Provider.WriteIntrospectionResponse(ctx, c.Response(), ir)
	return nil
}

// oauthMetadata is the environment's RFC 8414 metadata; an environment
// with OAuth off has none.
func (s *Server) oauthMetadata(c echo.Context) error {
	info, settings, err := s.oauthEnv(c)
	if err != nil {
		return err
	}
	if !settings.Enabled {
		return latchkey.Errorf(latchkey.ENOTFOUND, "OAuth is not enabled in environment %q", info.Name)
	}
	scopes, err := s.store.ListOAuthScopes(c.Request().Context())
	if err != nil {
		return err
	}
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = sc.Name
	}
	iss := s.issuer(c, info)
	return c.JSON(http.StatusOK, map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + "/authorize",
		"token_endpoint":                                 iss + "/token",
		"revocation_endpoint":                            iss + "/revoke",
		"introspection_endpoint":                         iss + "/introspect",
		"scopes_supported":                               names,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          tokenGrantTypes,
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic"},
		"authorization_response_iss_parameter_supported": true,
		"service_documentation":                          strings.TrimSuffix(iss, "/"+url.PathEscape(string(info.Name))+"/oauth") + "/docs",
	})
}

// defaultIcon is shown for an OAuth app without an icon of its own.
const defaultIcon = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#1f6feb"/><path d="M22 30v-6a10 10 0 0 1 20 0v6" stroke="#fff" stroke-width="5" fill="none"/><rect x="16" y="30" width="32" height="22" rx="4" fill="#fff"/></svg>`

// oauthIcon serves an OAuth app's icon: a PNG Latchkey re-encoded itself
// when it was uploaded, or the default one. It is an image and nothing else.
func (s *Server) oauthIcon(c echo.Context) error {
	if _, _, err := s.oauthEnv(c); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("Cache-Control", "public, max-age=300")
	icon, err := s.store.GetOAuthClientIcon(c.Request().Context(), c.Param("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		return c.Blob(http.StatusOK, "image/svg+xml", []byte(defaultIcon))
	}
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "image/png", icon)
}

// oauthBearer authenticates an access token of Latchkey's OAuth server on
// /api/v1: the route's permission must be one its scopes' groups grant.
// An invalid, expired or revoked token gets 401 invalid_token, a missing
// permission 403 insufficient_scope (RFC 6750 §3.1).
func (s *Server) oauthBearer(c echo.Context, token string) error {
	as, err := s.authServer(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	g, err := as.Introspect(ctx, token)
	if errors.Is(err, authserver.ErrInvalidToken) {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token", error_description="the access token is not valid, has expired or was revoked"`)
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "the access token is not valid, has expired or was revoked")
	}
	if err != nil {
		return err
	}
	if h := c.Request().Header.Get(EnvironmentHeader); h != "" && latchkey.Environment(h) != g.Env {
		return &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: "this access token acts in environment " + string(g.Env) + " only",
			Fields: []latchkey.FieldError{{Field: EnvironmentHeader, Message: "names another environment than the token's"}}}
	}
	s.actIn(c, g.Env)
	ctx = c.Request().Context()
	perm, ok := routePermission(c.Request().Method, c.Path())
	allowed := false
	if ok && perm != latchkey.PermSession && perm != latchkey.PermAdminsManage {
		if allowed, err = s.tokenAllows(ctx, g.Scopes, perm, c.Param("app")); err != nil {
			return err
		}
	}
	if !allowed {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="insufficient_scope", error_description="this route needs the permission `+string(perm)+`"`)
		return latchkey.Errorf(latchkey.EFORBIDDEN, "the access token's scopes do not grant %s on this route", perm)
	}
	// The token acts as the admin who authorized it, within its scopes.
	c.Set(keyContext, latchkey.APIKey{ID: "oauth:" + g.AuthorizationID, Name: g.Subject, Scope: latchkey.ScopeAdmin, Env: g.Env})
	s.touchAuthorization(ctx, g.AuthorizationID)
	return nil
}

// tokenAllows reports whether some group of some scope grants perm on app.
func (s *Server) tokenAllows(ctx context.Context, scopes []string, perm latchkey.Permission, app string) (bool, error) {
	all, err := s.store.ListOAuthScopes(ctx)
	if err != nil {
		return false, err
	}
	groups, err := s.store.ListOAuthGroups(ctx)
	if err != nil {
		return false, err
	}
	for _, sc := range all {
		if !slices.Contains(scopes, sc.Name) {
			continue
		}
		for _, g := range groups {
			if slices.Contains(sc.Groups, g.Name) && g.Allows(perm, app) {
				return true, nil
			}
		}
	}
	return false, nil
}

// touchAuthorization records a use of an authorization, at most once a
// minute per authorization and server.
func (s *Server) touchAuthorization(ctx context.Context, id string) {
	now := s.now()
	s.oauthUses.Lock()
	last, seen := s.oauthUses.at[id]
	if seen && now.Sub(last) < oauthTouchEvery {
		s.oauthUses.Unlock()
		return
	}
	s.oauthUses.at[id] = now
	s.oauthUses.Unlock()
	if err := s.store.TouchOAuthAuthorization(ctx, id, now); err != nil {
		s.logger.WarnContext(ctx, "cannot record the use of an OAuth authorization", "error", err)
	}
}

// oauthTouchEvery is how often a use of an authorization is written.
const oauthTouchEvery = time.Minute

// oauthUses remembers when this server last wrote each authorization's use.
type oauthUses struct {
	sync.Mutex
	at map[string]time.Time
}

// jsonEndpointEnv is oauthEnv for the endpoints that answer JSON to
// clients: an unknown environment is an RFC 6749 error too.
func (s *Server) jsonEndpointEnv(c echo.Context) (latchkey.EnvironmentInfo, latchkey.OAuthServer, bool, error) {
	info, settings, err := s.oauthEnv(c)
	var le *latchkey.Error
	if errors.As(err, &le) && le.Code == latchkey.ENOTFOUND {
		return info, settings, false, writeTokenError(c, &authserver.TokenError{Status: http.StatusNotFound, Code: "invalid_request", Description: le.Message})
	}
	if err != nil {
		return info, settings, false, err
	}
	if !settings.Enabled {
		return info, settings, false, writeTokenError(c, authserver.ErrNotEnabled)
	}
	return info, settings, true, nil
}
