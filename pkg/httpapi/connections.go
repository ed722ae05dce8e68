package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

func (s *Server) connectionRoutes(g *echo.Group) {
	user := "/apps/:app/orgs/:org/users/:user"
	g.POST(user+"/connections/:config/link", s.createLink)
	g.GET(user+"/connections/:config", s.getConnection)
	g.DELETE(user+"/connections/:config", s.deleteConnection)
	g.POST(user+"/connections/:config/refresh", s.refreshConnection)
	g.GET(user+"/settings/:name", s.getSetting)
	g.GET("/apps/:app/orgs/:org/connections/:config", s.getOrgConnection)
	g.DELETE("/apps/:app/orgs/:org/connections/:config", s.deleteConnection)
	g.POST("/apps/:app/orgs/:org/connections/:config/refresh", s.refreshConnection)
	g.GET("/apps/:app/connections", s.listConnections)
	g.GET("/connections", s.searchConnections)
	g.GET(user+"/connections/:config/events", s.connectionEvents)
	g.GET("/apps/:app/orgs/:org/connections/:config/events", s.connectionEvents)
}

func connectionKey(c echo.Context) latchkey.ConnectionKey {
	return latchkey.ConnectionKey{App: c.Param("app"), Org: c.Param("org"), User: c.Param("user"), Config: c.Param("config")}
}

// tokenView is a connection as its owner's backend reads it.
type tokenView struct {
	latchkey.ConnectionKey
	Status      latchkey.ConnectionStatus `json:"status"`
	AccessToken string                    `json:"access_token"`
	TokenType   string                    `json:"token_type,omitempty"`
	Scope       string                    `json:"scope,omitempty"`
	ExpiresAt   *time.Time                `json:"expires_at"`
	RefreshedAt time.Time                 `json:"refreshed_at,omitzero"`
}

func (s *Server) createLink(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	var req struct {
		ReturnTo string `json:"return_to"`
		Popup    bool   `json:"popup"`
	}
	if err := readJSON(c, &req, jsonBody{optional: true, lenient: true}); err != nil {
		return err
	}
	link, err := s.engine.CreateLink(c.Request().Context(), flow.LinkRequest{Key: key, ReturnTo: req.ReturnTo, Popup: req.Popup})
	if err != nil {
		return err
	}
	s.audit.enqueue(c.Request().Context(), keyEvent(c, latchkey.AuditLinkCreate, key))
	noStore(c)
	return c.JSON(http.StatusCreated, link)
}

// getConnection returns a user's connection with a usable access token,
// refreshing it first when it is expired or about to be.
func (s *Server) getConnection(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	return s.writeToken(c, key)
}

func (s *Server) getOrgConnection(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	return s.writeToken(c, key)
}

func (s *Server) writeToken(c echo.Context, key latchkey.ConnectionKey) error {
	conn, err := s.engine.Token(c.Request().Context(), key)
	if err != nil {
		return err
	}
	s.audit.enqueue(c.Request().Context(), keyEvent(c, latchkey.AuditTokenRead, conn.ConnectionKey))
	app, err := s.engine.App(c.Request().Context(), key.App)
	if err != nil {
		return err
	}
	cfg, _ := app.App.OAuthConfig(key.Config)
	v := tokenView{ConnectionKey: conn.ConnectionKey, Status: conn.Status, TokenType: conn.TokenType, Scope: conn.Scope,
		RefreshedAt: conn.RefreshedAt}
	if cfg != nil {
		v.AccessToken = conn.Values[cfg.AccessTokenVariableName]
	}
	if !conn.ExpiresAt.IsZero() {
		t := conn.ExpiresAt.UTC()
		v.ExpiresAt = &t
	}
	noStore(c)
	return c.JSON(http.StatusOK, v)
}

// refreshConnection refreshes a connection at once, due or not, through the
// engine's single-flight and lease (flow.Engine.RefreshNow), and answers
// its metadata (status, expires_at, refreshed_at), never its token: the
// builder's "Refresh now" must not pull a token into the browser.
func (s *Server) refreshConnection(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	conn, err := s.engine.RefreshNow(c.Request().Context(), key)
	if err != nil {
		return err
	}
	s.audit.record(c.Request().Context(), keyEvent(c, latchkey.AuditConnectionRefresh, conn.ConnectionKey))
	noStore(c)
	return c.JSON(http.StatusOK, conn)
}

func (s *Server) deleteConnection(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	force := c.QueryParam("force") == "true"
	d, err := s.engine.DisconnectConnection(c.Request().Context(), key, force)
	if err != nil {
		return err
	}
	ev := keyEvent(c, latchkey.AuditConnectionDelete, key)
	if d.Notice != "" {
		// The config is gone: the connection is deleted, unrevoked, and
		// the answer says so.
		ev.Detail = "not revoked: the OAuth config no longer exists"
		s.audit.record(c.Request().Context(), ev)
		return c.JSON(http.StatusOK, d)
	}
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getSetting(c echo.Context) error {
	app, org, user := c.Param("app"), c.Param("org"), c.Param("user")
	if err := requireApp(c, app); err != nil {
		return err
	}
	v, err := s.engine.Setting(c.Request().Context(), app, org, user, c.Param("name"))
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditSettingRead)
	ev.App, ev.Org, ev.User, ev.Detail = app, org, user, "setting "+v.Name
	s.audit.enqueue(c.Request().Context(), ev)
	noStore(c)
	return c.JSON(http.StatusOK, v)
}

func (s *Server) listConnections(c echo.Context) error {
	app := c.Param("app")
	if err := requireApp(c, app); err != nil {
		return err
	}
	conns, err := s.store.ListConnections(c.Request().Context(), app, c.QueryParam("org"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"connections": conns})
}

// keyEvent is an audit event about one connection.
func keyEvent(c echo.Context, action string, key latchkey.ConnectionKey) latchkey.AuditEvent {
	ev := event(c, action)
	ev.App, ev.Org, ev.User, ev.Config = key.App, key.Org, key.User, key.Config
	return ev
}
