package httpapi

import (
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// MaxAPIKeyName is the most characters an API key's name may have.
const MaxAPIKeyName = 100

func (s *Server) apiKeyRoutes(g *echo.Group) {
	g.GET("/apikeys", s.listAPIKeys)
	g.POST("/apikeys", s.createAPIKey)
	g.DELETE("/apikeys/:id", s.revokeAPIKey)
}

func (s *Server) listAPIKeys(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	keys, err := s.store.ListAPIKeys(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"api_keys": keys})
}

// createAPIKey creates a key and returns it whole, the only time it is shown.
func (s *Server) createAPIKey(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var req struct {
		Name  string `json:"name"`
		Scope string `json:"scope"`
		App   string `json:"app"`
	}
	if err := readJSON(c, &req, jsonBody{}); err != nil {
		return err
	}
	var fe latchkey.FieldErrors
	if err := latchkey.CheckLine(req.Name); err != nil {
		fe.Add("name", "%v", err)
	} else if utf8.RuneCountInString(req.Name) > MaxAPIKeyName {
		fe.Add("name", "is longer than %d characters", MaxAPIKeyName)
	}
	if req.Scope == latchkey.ScopeRuntime && !latchkey.ValidName(req.App) {
		fe.Add("app", "must name the app a runtime key reads: it %s", latchkey.NameRule)
	}
	if err := fe.Err("the API key is not valid"); err != nil {
		return err
	}
	if req.Scope == latchkey.ScopeRuntime {
		if _, err := s.store.GetApp(c.Request().Context(), req.App); err != nil {
			return err
		}
	}
	rec, full, err := apikey.Generate(req.Scope, req.App, req.Name, s.now())
	if err != nil {
		return err
	}
	rec.Env = latchkey.EnvironmentFrom(c.Request().Context()) // a key acts where it was made
	if err := s.store.CreateAPIKey(c.Request().Context(), rec); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditAPIKeyCreate)
	ev.App, ev.Detail = rec.App, "key "+rec.ID+" scope "+rec.Scope
	s.audit.record(c.Request().Context(), ev)
	noStore(c)
	return c.JSON(http.StatusCreated, map[string]any{"api_key": rec, "key": full})
}

func (s *Server) revokeAPIKey(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	id := c.Param("id")
	if s.envKey.Hash != nil && id == s.envKey.ID {
		return latchkey.Errorf(latchkey.ECONFLICT, "this key comes from %s: restart the server without the variable, or with another value, to end it", apikey.EnvName)
	}
	if err := s.store.RevokeAPIKey(c.Request().Context(), id, s.now()); err != nil {
		return err
	}
	s.keys.forget(id)
	ev := event(c, latchkey.AuditAPIKeyRevoke)
	ev.Detail = "key " + id
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}
