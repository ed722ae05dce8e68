package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"image"
	_ "image/jpeg" // icons may be uploaded as JPEG; they are kept as PNG
	"image/png"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/authserver"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// The admin API of Latchkey's own OAuth server, in the environment the
// request acts in: its settings, groups, scopes, OAuth apps (with their
// icons) and the authorizations people gave them.
func (s *Server) oauthAdminRoutes(g *echo.Group) {
	g.GET("/oauth/server", s.getOAuthServer)
	g.PUT("/oauth/server", s.putOAuthServer)
	g.GET("/oauth/permissions", s.listPermissions)
	g.GET("/oauth/groups", s.listOAuthGroups)
	g.PUT("/oauth/groups/:name", s.putOAuthGroup)
	g.DELETE("/oauth/groups/:name", s.deleteOAuthGroup)
	g.GET("/oauth/scopes", s.listOAuthScopes)
	g.PUT("/oauth/scopes/:name", s.putOAuthScope)
	g.DELETE("/oauth/scopes/:name", s.deleteOAuthScope)
	g.GET("/oauth/apps", s.listOAuthClients)
	g.POST("/oauth/apps", s.createOAuthClient)
	g.GET("/oauth/apps/:name", s.getOAuthClient)
	g.PUT("/oauth/apps/:name", s.updateOAuthClient)
	g.DELETE("/oauth/apps/:name", s.deleteOAuthClient)
	g.PUT("/oauth/apps/:name/icon", s.putOAuthClientIcon)
	g.DELETE("/oauth/apps/:name/icon", s.deleteOAuthClientIcon)
	g.GET("/oauth/authorizations", s.listOAuthAuthorizations)
	g.DELETE("/oauth/authorizations/:id", s.revokeOAuthAuthorization)
}

// oauthServerView is an environment's OAuth server settings with where its
// endpoints are.
type oauthServerView struct {
	latchkey.OAuthServer
	Issuer      string `json:"issuer"`
	MetadataURL string `json:"metadata_url"`
}

func (s *Server) oauthServerView(c echo.Context, o latchkey.OAuthServer) (oauthServerView, error) {
	env := latchkey.EnvironmentFrom(c.Request().Context())
	info, err := s.store.GetEnvironment(c.Request().Context(), env)
	if err != nil {
		return oauthServerView{}, err
	}
	iss := s.issuer(c, info)
	base := iss[:len(iss)-len("/"+string(env)+"/oauth")]
	return oauthServerView{OAuthServer: o.WithDefaults(), Issuer: iss, MetadataURL: base + "/.well-known/oauth-authorization-server/" + string(env) + "/oauth"}, nil
}

func (s *Server) getOAuthServer(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	o, err := s.store.GetOAuthServer(c.Request().Context())
	if err != nil {
		return err
	}
	v, err := s.oauthServerView(c, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) putOAuthServer(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var body latchkey.OAuthServer
	if err := readJSON(c, &body, jsonBody{}); err != nil {
		return err
	}
	body.UpdatedAt = s.now()
	before, err := s.store.GetOAuthServer(c.Request().Context())
	if err != nil {
		return err
	}
	o, err := s.store.PutOAuthServer(c.Request().Context(), body)
	if err != nil {
		return err
	}
	if o.Enabled && !before.Enabled {
		if err := s.ensureCLIApp(c); err != nil {
			return err
		}
	}
	ev := event(c, latchkey.AuditOAuthServerPut)
	ev.Detail = "enabled " + map[bool]string{true: "true", false: "false"}[o.Enabled]
	s.audit.record(c.Request().Context(), ev)
	v, err := s.oauthServerView(c, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// ensureCLIApp registers Latchkey's CLI (latchkey login) as the
// environment's first OAuth app when OAuth is turned on, unless an app of
// its name is there: the scope latchkey-cli, whose group holds every
// permission, so that a person's CLI can do what the person can.
func (s *Server) ensureCLIApp(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := s.store.GetOAuthClient(ctx, latchkey.CLIClientID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	all := make([]latchkey.Permission, len(latchkey.Permissions))
	for i, p := range latchkey.Permissions {
		all[i] = p.Name
	}
	if _, err := s.store.PutOAuthGroup(ctx, latchkey.OAuthGroup{Name: latchkey.CLIScope, Description: "Everything the person signed in to Latchkey's CLI may do", Permissions: all}); err != nil {
		return err
	}
	if _, err := s.store.PutOAuthScope(ctx, latchkey.OAuthScope{Name: latchkey.CLIScope, Description: "Act as you in Latchkey's command-line tool", Groups: []string{latchkey.CLIScope}}); err != nil {
		return err
	}
	_, err := s.store.CreateOAuthClient(ctx, latchkey.OAuthClient{Name: latchkey.CLIClientID, ClientID: latchkey.CLIClientID, Label: "Latchkey CLI",
		Description: "The latchkey command on your computer (latchkey login)", RedirectURI: latchkey.CLIRedirectURI,
		Scopes: []string{latchkey.CLIScope}, Public: true})
	return err
}

func (s *Server) listPermissions(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"permissions": latchkey.Permissions})
}

func (s *Server) listOAuthGroups(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	gs, err := s.store.ListOAuthGroups(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"groups": gs})
}

func (s *Server) putOAuthGroup(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var body latchkey.OAuthGroup
	if err := readJSON(c, &body, jsonBody{}); err != nil {
		return err
	}
	if err := nameMatchesPath(c, body.Name); err != nil {
		return err
	}
	body.Name = c.Param("name")
	g, err := s.store.PutOAuthGroup(c.Request().Context(), body)
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthGroupPut)
	ev.Detail = "group " + g.Name
	s.audit.record(c.Request().Context(), ev)
	return c.JSON(http.StatusOK, g)
}

// nameMatchesPath refuses a body whose name is not the one in the path.
func nameMatchesPath(c echo.Context, name string) error {
	if name != "" && name != c.Param("name") {
		return fieldError(latchkey.EINVALID, "the name in the body is not the one in the path", "name", "must be "+c.Param("name")+" or left out")
	}
	return nil
}

func (s *Server) deleteOAuthGroup(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.DeleteOAuthGroup(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthGroupDelete)
	ev.Detail = "group " + c.Param("name")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listOAuthScopes(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	sc, err := s.store.ListOAuthScopes(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"scopes": sc})
}

func (s *Server) putOAuthScope(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var body latchkey.OAuthScope
	if err := readJSON(c, &body, jsonBody{}); err != nil {
		return err
	}
	if err := nameMatchesPath(c, body.Name); err != nil {
		return err
	}
	body.Name = c.Param("name")
	sc, err := s.store.PutOAuthScope(c.Request().Context(), body)
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthScopePut)
	ev.Detail = "scope " + sc.Name
	s.audit.record(c.Request().Context(), ev)
	return c.JSON(http.StatusOK, sc)
}

func (s *Server) deleteOAuthScope(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.DeleteOAuthScope(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthScopeDelete)
	ev.Detail = "scope " + c.Param("name")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listOAuthClients(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	cs, err := s.store.ListOAuthClients(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"apps": cs})
}

// oauthClientInput is what an admin writes of an OAuth app.
type oauthClientInput struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	RedirectURI string   `json:"redirect_uri"`
	Scopes      []string `json:"scopes"`
	Public      bool     `json:"public"`
}

// createOAuthClient registers an OAuth app with a random client id; a
// confidential one gets a client secret, answered this once and kept only
// hashed.
func (s *Server) createOAuthClient(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var in oauthClientInput
	if err := readJSON(c, &in, jsonBody{}); err != nil {
		return err
	}
	id, err := randomToken("lkc_", 16)
	if err != nil {
		return err
	}
	client := latchkey.OAuthClient{Name: in.Name, ClientID: id, Label: in.Label, Description: in.Description, RedirectURI: in.RedirectURI,
		Scopes: in.Scopes, Public: in.Public}
	var secret string
	if !in.Public {
		if secret, err = randomToken("lks_", 32); err != nil {
			return err
		}
		client.SecretHash = authserver.HashSecret(secret)
	}
	client, err = s.store.CreateOAuthClient(c.Request().Context(), client)
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthClientCreate)
	ev.Detail = "OAuth app " + client.Name + " client " + client.ClientID
	s.audit.record(c.Request().Context(), ev)
	noStore(c)
	out := map[string]any{"app": client}
	if secret != "" {
		out["client_secret"] = secret
	}
	return c.JSON(http.StatusCreated, out)
}

func randomToken(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Server) getOAuthClient(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	cl, err := s.store.GetOAuthClient(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cl)
}

// updateOAuthClient replaces an OAuth app's label, description, redirect
// URI and scopes; its client id, kind and secret stay.
func (s *Server) updateOAuthClient(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var in oauthClientInput
	if err := readJSON(c, &in, jsonBody{lenient: true}); err != nil {
		return err
	}
	if err := nameMatchesPath(c, in.Name); err != nil {
		return err
	}
	cl, err := s.store.UpdateOAuthClient(c.Request().Context(), latchkey.OAuthClient{Name: c.Param("name"), Label: in.Label,
		Description: in.Description, RedirectURI: in.RedirectURI, Scopes: in.Scopes})
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthClientUpdate)
	ev.Detail = "OAuth app " + cl.Name
	s.audit.record(c.Request().Context(), ev)
	return c.JSON(http.StatusOK, cl)
}

func (s *Server) deleteOAuthClient(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.DeleteOAuthClient(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthClientDelete)
	ev.Detail = "OAuth app " + c.Param("name")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

// MaxIconBytes is the largest icon upload.
const MaxIconBytes = 256 << 10

// IconSize is the side of an OAuth app's icon, in pixels (the seed's
// 64×64).
const IconSize = 64

// putOAuthClientIcon takes a 64×64 PNG or JPEG, decodes it whole and keeps
// it re-encoded as PNG: nothing of the upload but its pixels is ever
// served.
func (s *Server) putOAuthClientIcon(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != "image/png" && mt != "image/jpeg" {
		return fieldError(codeUnsupportedType, "an icon is uploaded as image/png or image/jpeg", "Content-Type", "must be image/png or image/jpeg")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, MaxIconBytes+1))
	if err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, "the icon cannot be read")
	}
	if len(body) > MaxIconBytes {
		return fieldError(latchkey.EINVALID, "the icon is too large", "icon", "must be at most 256 KiB")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return fieldError(latchkey.EINVALID, "the icon is not an image", "icon", "cannot be decoded as "+mt)
	}
	if cfg.Width != IconSize || cfg.Height != IconSize {
		return fieldError(latchkey.EINVALID, "the icon has the wrong size", "icon", "must be 64×64 pixels")
	}
	img, _, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		return fieldError(latchkey.EINVALID, "the icon is not an image", "icon", "cannot be decoded as "+mt)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return err
	}
	if err := s.store.SetOAuthClientIcon(c.Request().Context(), c.Param("name"), out.Bytes()); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthClientUpdate)
	ev.Detail = "OAuth app " + c.Param("name") + " icon"
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) deleteOAuthClientIcon(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.SetOAuthClientIcon(c.Request().Context(), c.Param("name"), nil); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listOAuthAuthorizations(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	as, err := s.store.ListOAuthAuthorizations(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"authorizations": as})
}

// revokeOAuthAuthorization revokes an authorization and every token issued
// under it, at once on every replica (bearer tokens are checked against
// the store on each request); the person is asked again next time.
func (s *Server) revokeOAuthAuthorization(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.RevokeOAuthAuthorization(c.Request().Context(), c.Param("id"), s.now()); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditOAuthRevoke)
	ev.Detail = "authorization " + c.Param("id")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}
