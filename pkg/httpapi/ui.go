package httpapi

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/ui"
)

// uiCSP is the builder UI's Content-Security-Policy: its own scripts, styles
// and API only.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) uiRoutes(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/ui/") })
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	e.GET("/ui/*", s.serveUI)
	e.HEAD("/ui/*", s.serveUI)
}

// serveUI serves the embedded builder UI. Hashed assets are cached for a
// year; index.html, which names them, is revalidated on every load. A path
// that names no file is a route of the app and gets index.html.
func (s *Server) serveUI(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", uiCSP)
	if !ui.Embedded {
		return c.String(http.StatusNotFound, "this build of Latchkey has no builder UI (built with -tags no_ui); the API at /api/v1 works")
	}
	name := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
	if name == "" {
		name = "index.html"
	}
	data, err := fs.ReadFile(ui.DistDirFS, name)
	if errors.Is(err, fs.ErrNotExist) || (err != nil && strings.Contains(err.Error(), "is a directory")) {
		if strings.HasPrefix(name, "assets/") {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		name = "index.html"
		data, err = fs.ReadFile(ui.DistDirFS, name)
	}
	if err != nil {
		return err
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	if strings.HasPrefix(name, "assets/") {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	return c.Blob(http.StatusOK, ctype, data)
}
