package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

func (s *Server) appRoutes(g *echo.Group) {
	g.GET("/apps", s.listApps)
	g.GET("/apps/:app", s.getApp)
	g.PUT("/apps/:app", s.putApp)
	g.DELETE("/apps/:app", s.deleteApp)
}

func (s *Server) listApps(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	apps, err := s.store.ListApps(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]latchkey.App, len(apps))
	for i, a := range apps {
		out[i] = a.Redact()
	}
	return c.JSON(http.StatusOK, map[string]any{"apps": out})
}

func (s *Server) getApp(c echo.Context) error {
	name := c.Param("app")
	if err := requireApp(c, name); err != nil {
		return err
	}
	app, err := s.store.GetApp(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.withCallback(app.Redact()))
}

// withCallback sets the read-only callback_url of an app answer: the
// redirect URI its providers must know.
func (s *Server) withCallback(a latchkey.App) latchkey.App {
	a.CallbackURL = s.engine.CallbackURL()
	return a
}

// DeletedConnectionsHeader, on the answer to a PUT of an app with
// delete_connections=true, counts the connections of removed OAuth configs
// the save deleted.
const DeletedConnectionsHeader = "Latchkey-Deleted-Connections"

// putApp creates or replaces an app document, JSON or YAML as its
// Content-Type says (JSON when it says nothing). The document is validated
// and compiled whole; a bad one changes nothing. A document that removes an
// OAuth config with connections is refused with a 409 unless the query says
// delete_connections=true. With If-None-Match: * the PUT only creates: an
// app of that name that exists already is left alone and the PUT refused
// with a 409 naming the field name (RFC 9110 §13.1.2 would have a 412; a
// 409 conflict is what every other taken name gets here, with the field
// to show it beside).
func (s *Server) putApp(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	format, err := documentFormat(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, "the request body cannot be read")
	}
	app, err := latchkey.ParseAppAs(body, format)
	if err != nil {
		return err
	}
	// callback_url is read-only: the editor sends back what it read.
	app.CallbackURL = ""
	name := c.Param("app")
	if app.Name == "" {
		app.Name = name
	}
	if app.Name != name {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: "the document's name differs from the URL's",
			Fields: []latchkey.FieldError{{Field: "name", Message: "must be \"" + name + "\", the name in the URL"}}}
	}
	var opts flow.SaveOptions
	switch c.QueryParam("delete_connections") {
	case "", "false":
	case "true":
		opts.DeleteConnections = true
	default:
		return &latchkey.Error{Code: latchkey.EBADREQUEST, Message: "delete_connections must be true or false",
			Fields: []latchkey.FieldError{{Field: "delete_connections", Message: "must be true or false"}}}
	}
	switch inm := c.Request().Header.Get("If-None-Match"); inm {
	case "":
	case "*":
		opts.Create = true
	default:
		return &latchkey.Error{Code: latchkey.EBADREQUEST, Message: "If-None-Match must be *, to create an app only if none has its name",
			Fields: []latchkey.FieldError{{Field: "If-None-Match", Message: "must be *"}}}
	}
	_, existed := s.store.GetApp(c.Request().Context(), name)
	saved, deleted, err := s.engine.SaveAppWith(c.Request().Context(), app, opts)
	if errors.Is(err, latchkey.ErrConflict) {
		var le *latchkey.Error
		if errors.As(err, &le) && len(le.Fields) > 0 && le.Fields[0].Field == "oauth_configs" {
			return &latchkey.Error{Code: le.Code, Fields: le.Fields,
				Message: le.Message + " (PUT with ?delete_connections=true, or latchkey apply --delete-connections)"}
		}
	}
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditAppPut)
	ev.App, ev.Detail = saved.Name, "revision "+strconv.FormatInt(saved.Revision, 10)
	if len(deleted) > 0 {
		ev.Detail += fmt.Sprintf("; deleted %d connections of removed OAuth configs", len(deleted))
		c.Response().Header().Set(DeletedConnectionsHeader, strconv.Itoa(len(deleted)))
	}
	s.audit.record(c.Request().Context(), ev)
	status := http.StatusOK
	if existed != nil {
		status = http.StatusCreated
	}
	return c.JSON(status, saved.Redact())
}

func (s *Server) deleteApp(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.engine.DeleteApp(c.Request().Context(), c.Param("app")); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditAppDelete)
	ev.App = c.Param("app")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}
