package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// playgroundRoutes are the builder UI's playground: admins render an OAuth
// config for sample values and try extraction paths on pasted answers.
// Nothing is sent to a provider and nothing is stored.
func (s *Server) playgroundRoutes(g *echo.Group) {
	g.POST("/apps/:app/playground/render", s.renderPlayground)
	g.POST("/playground/extract", s.extractPlayground)
}

func invalidField(field, msg string) error {
	return &latchkey.Error{Code: latchkey.EINVALID, Message: field + " " + msg,
		Fields: []latchkey.FieldError{{Field: field, Message: msg}}}
}

// renderPlayground renders an OAuth config of an app for sample values: the
// link URL and the token request, secrets masked. "config" is the name of a
// saved config or a config document being edited.
func (s *Server) renderPlayground(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var req struct {
		Config json.RawMessage   `json:"config"`
		Values map[string]string `json:"values"`
	}
	if err := readJSON(c, &req, jsonBody{}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	var cfg latchkey.OAuthConfig
	raw := bytes.TrimSpace(req.Config)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return invalidField("config", "is required: the name of an OAuth config or a config document")
	case raw[0] == '"':
		var name string
		_ = json.Unmarshal(raw, &name)
		app, err := s.engine.App(ctx, c.Param("app"))
		if err != nil {
			return err
		}
		found, ok := app.App.OAuthConfig(name)
		if !ok {
			return invalidField("config", "names no OAuth config of the app")
		}
		cfg = *found
	case raw[0] == '{':
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return invalidField("config", "is not an OAuth config document: "+err.Error())
		}
		if f, ok := latchkey.NullField(raw, reflect.TypeFor[latchkey.OAuthConfig]()); ok {
			return invalidField("config."+f, latchkey.NullMessage)
		}
		if cfg.Name == "" {
			return invalidField("config.name", "is required")
		}
	default:
		return invalidField("config", "must be the name of an OAuth config or a config document")
	}
	p, err := s.engine.RenderPreview(ctx, c.Param("app"), cfg, req.Values)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, p)
}

// extractPlayground runs an extraction path over a pasted provider answer.
func (s *Server) extractPlayground(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var req struct {
		Path        string `json:"path"`
		Response    string `json:"response"`
		ContentType string `json:"content_type"`
	}
	if err := readJSON(c, &req, jsonBody{}); err != nil {
		return err
	}
	x, err := flow.PreviewExtraction(c.Request().Context(), req.Path, req.Response, req.ContentType)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, x)
}
