package httpapi

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

func (s *Server) installationRoutes(g *echo.Group) {
	g.GET("/apps/:app/orgs", s.listInstallations)
	g.GET("/apps/:app/orgs/:org/settings", s.getInstallation)
	g.PUT("/apps/:app/orgs/:org/settings", s.putInstallation)
	g.PATCH("/apps/:app/orgs/:org/settings", s.putInstallation)
	g.DELETE("/apps/:app/orgs/:org", s.deleteInstallation)
}

func (s *Server) listInstallations(c echo.Context) error {
	ctx := c.Request().Context()
	if err := requireApp(c, c.Param("app")); err != nil {
		return err
	}
	app, err := s.store.GetApp(ctx, c.Param("app"))
	if err != nil {
		return err
	}
	insts, err := s.store.ListInstallations(ctx, app.Name)
	if err != nil {
		return err
	}
	for i := range insts {
		insts[i].Values = app.RedactValues(app.OrgValues(insts[i].Values))
	}
	return c.JSON(http.StatusOK, map[string]any{"installations": insts})
}

func (s *Server) getInstallation(c echo.Context) error {
	ctx := c.Request().Context()
	if err := requireApp(c, c.Param("app")); err != nil {
		return err
	}
	app, err := s.store.GetApp(ctx, c.Param("app"))
	if err != nil {
		return err
	}
	inst, err := s.store.GetInstallation(ctx, app.Name, c.Param("org"))
	if err != nil {
		return err
	}
	inst.Values = app.RedactValues(app.OrgValues(inst.Values))
	return c.JSON(http.StatusOK, inst)
}

// putInstallation sets an org's org-level values: PUT replaces them all,
// PATCH changes only those it names. A secret sent back as the redaction
// marker keeps its stored value, so a listing can be edited and sent back.
// Stored values of settings the document no longer declares are ignored
// and dropped by the write.
func (s *Server) putInstallation(c echo.Context) error {
	ctx := c.Request().Context()
	if err := requireAdmin(c); err != nil {
		return err
	}
	org := c.Param("org") // checked at the edge (edge.go)
	app, err := s.store.GetApp(ctx, c.Param("app"))
	if err != nil {
		return err
	}
	values, err := readValues(c)
	if err != nil {
		return err
	}
	old, err := s.store.GetInstallation(ctx, app.Name, org)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	old.Values = app.OrgValues(old.Values)
	if c.Request().Method == http.MethodPatch {
		merged := map[string]string{}
		for k, v := range old.Values {
			merged[k] = v
		}
		for k, v := range values {
			merged[k] = v
		}
		values = merged
	}
	for k, v := range values {
		if v == latchkey.Redacted {
			if prev, ok := old.Values[k]; ok {
				values[k] = prev
			} else {
				return &latchkey.Error{Code: latchkey.EINVALID, Message: "a redacted value can only stand for a stored one",
					Fields: []latchkey.FieldError{{Field: k, Message: "is the redaction marker, but no value is stored"}}}
			}
		}
	}
	if err := app.ValidateInstallation(values); err != nil {
		return err
	}
	inst, err := s.store.PutInstallation(ctx, latchkey.Installation{App: app.Name, Org: org, Values: values})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	ev := event(c, latchkey.AuditInstallationPut)
	ev.App, ev.Org, ev.Detail = app.Name, org, "settings: "+strings.Join(names, ", ")
	s.audit.record(ctx, ev)
	inst.Values = app.RedactValues(inst.Values)
	return c.JSON(http.StatusOK, inst)
}

func (s *Server) deleteInstallation(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.DeleteInstallation(c.Request().Context(), c.Param("app"), c.Param("org")); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditInstallationDelete)
	ev.App, ev.Org = c.Param("app"), c.Param("org")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

// readValues reads a JSON object of string values (null for empty).
func readValues(c echo.Context) (map[string]string, error) {
	var raw map[string]any
	if err := readJSON(c, &raw, jsonBody{}); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fieldError(latchkey.EINVALID, "the body must be a JSON object of setting names to string values", "", "is not a JSON object")
	}
	values := map[string]string{}
	var fe latchkey.FieldErrors
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := raw[k].(type) {
		case string:
			values[k] = v
		case nil:
			values[k] = ""
		default:
			fe.Add(k, "must be a string")
		}
	}
	if err := fe.Err("the values are invalid"); err != nil {
		return nil, err
	}
	return values, nil
}
