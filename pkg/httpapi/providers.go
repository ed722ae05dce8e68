package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

func (s *Server) providerRoutes(g *echo.Group) {
	g.GET("/providers", s.listProviders)
	g.POST("/providers/discover", s.discoverProvider)
	g.GET("/providers/:name", s.getProvider)
	g.POST("/providers/:name/app", s.createAppFromProvider)
}

// listProviders lists the catalog: ?search= matches names, labels and
// descriptions, ?category= keeps one category. Any API key may read it.
func (s *Server) listProviders(c echo.Context) error {
	q := catalog.Query{Search: c.QueryParam("search"), Category: c.QueryParam("category")}
	entries := s.catalog.List(q)
	if entries == nil {
		entries = []*catalog.Entry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"providers": entries, "categories": catalog.Categories})
}

// providerView is one entry with its document, completed as an app made
// from it would be.
type providerView struct {
	*catalog.Entry
	Document latchkey.App `json:"document"`
}

func (s *Server) getProvider(c echo.Context) error {
	e, ok := s.catalog.Get(c.Param("name"))
	if !ok {
		return latchkey.Errorf(latchkey.ENOTFOUND, "the catalog has no provider %q", c.Param("name"))
	}
	return c.JSON(http.StatusOK, providerView{Entry: e, Document: e.App})
}

// createAppFromProvider creates an app from a catalog entry, named as the
// body's name says (the entry's name by default). It never replaces an
// existing app.
func (s *Server) createAppFromProvider(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := readJSON(c, &body, jsonBody{optional: true}); err != nil {
		return err
	}
	app, err := s.catalog.NewApp(c.Param("name"), body.Name)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.GetApp(ctx, app.Name); err == nil {
		return &latchkey.Error{Code: latchkey.ECONFLICT, Message: "an app called " + strconv.Quote(app.Name) + " exists already",
			Fields: []latchkey.FieldError{{Field: "name", Message: "names an existing app; choose another name"}}}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	saved, err := s.engine.SaveApp(ctx, app)
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditAppPut)
	ev.App, ev.Detail = saved.Name, "created from the catalog entry "+c.Param("name")
	s.audit.record(ctx, ev)
	return c.JSON(http.StatusCreated, s.withCallback(saved.Redact()))
}

// discoverProvider reads an issuer's OpenID Connect discovery or RFC 8414
// metadata and answers the app document it implies, without saving it.
func (s *Server) discoverProvider(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var body struct {
		Issuer string `json:"issuer"`
		Name   string `json:"name"`
	}
	if err := readJSON(c, &body, jsonBody{optional: true}); err != nil {
		return err
	}
	if u, err := url.Parse(body.Issuer); err != nil || u.Scheme != "https" {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: "the issuer must be an https URL",
			Fields: []latchkey.FieldError{{Field: "issuer", Message: "must be an absolute https URL, such as https://accounts.example.com"}}}
	}
	if body.Name != "" && !latchkey.ValidName(body.Name) {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: "the name is not a valid app name",
			Fields: []latchkey.FieldError{{Field: "name", Message: "must be 1 to 63 lower-case letters, digits, '-' or '_'"}}}
	}
	md, err := catalog.Discover(c.Request().Context(), s.discoveryClient, body.Issuer)
	if err != nil {
		return err
	}
	app, err := md.Document(body.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"metadata": md, "document": app})
}
