package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// environmentRoutes registers the management of environments and the
// promotion of an app's document from one environment to another. Both are
// for admin sessions (the builder UI) only: an API key acts in its own
// environment and manages none.
func (s *Server) environmentRoutes(g *echo.Group) {
	g.GET("/environments", s.listEnvironments)
	g.POST("/environments", s.createEnvironment)
	g.PUT("/environments/:env", s.putEnvironment)
	g.DELETE("/environments/:env", s.deleteEnvironment)
	g.POST("/apps/:app/promote", s.promoteApp)
}

// requireSession refuses callers that are not a signed-in admin's session.
func requireSession(c echo.Context) error {
	if _, _, ok := sessionOf(c); !ok {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "environments are managed by admins signed in to the builder UI, or with the CLI; an API key acts in its own environment only")
	}
	return nil
}

func (s *Server) listEnvironments(c echo.Context) error {
	if err := requireSession(c); err != nil {
		return err
	}
	envs, err := s.store.ListEnvironments(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"environments": envs})
}

type environmentBody struct {
	Name      string `json:"name"`
	PublicURL string `json:"public_url"`
}

func (s *Server) createEnvironment(c echo.Context) error {
	if err := requireSession(c); err != nil {
		return err
	}
	var body environmentBody
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, "the body must be a JSON object with name and public_url")
	}
	if _, err := s.store.GetEnvironment(c.Request().Context(), latchkey.Environment(body.Name)); err == nil {
		return &latchkey.Error{Code: latchkey.ECONFLICT, Message: fmt.Sprintf("environment %q exists already", body.Name),
			Fields: []latchkey.FieldError{{Field: "name", Message: "is taken"}}}
	}
	return s.saveEnvironment(c, body, http.StatusCreated)
}

func (s *Server) putEnvironment(c echo.Context) error {
	if err := requireSession(c); err != nil {
		return err
	}
	var body environmentBody
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, "the body must be a JSON object with public_url")
	}
	if body.Name != "" && body.Name != c.Param("env") {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: "the body's name differs from the URL's",
			Fields: []latchkey.FieldError{{Field: "name", Message: "must be \"" + c.Param("env") + "\", the name in the URL"}}}
	}
	body.Name = c.Param("env")
	return s.saveEnvironment(c, body, http.StatusOK)
}

func (s *Server) saveEnvironment(c echo.Context, body environmentBody, status int) error {
	if body.PublicURL != "" {
		if err := checkPublicURL(body.PublicURL); err != nil {
			return &latchkey.Error{Code: latchkey.EINVALID, Message: "public_url " + err.Error(),
				Fields: []latchkey.FieldError{{Field: "public_url", Message: err.Error()}}}
		}
	}
	info, err := s.store.PutEnvironment(c.Request().Context(), latchkey.EnvironmentInfo{Name: latchkey.Environment(body.Name), PublicURL: strings.TrimRight(body.PublicURL, "/")})
	if err != nil {
		return err
	}
	ev := event(c, latchkey.AuditEnvironmentPut)
	ev.Env, ev.Detail = info.Name, "public_url "+info.PublicURL
	s.audit.record(c.Request().Context(), ev)
	return c.JSON(status, info)
}

// checkPublicURL accepts an absolute http(s) URL without query or fragment.
func checkPublicURL(u string) error {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return errors.New("must be an absolute http or https URL")
	}
	if strings.ContainsAny(u, "?# ") {
		return errors.New("must have no query, fragment or space")
	}
	return nil
}

func (s *Server) deleteEnvironment(c echo.Context) error {
	if err := requireSession(c); err != nil {
		return err
	}
	force := false
	switch c.QueryParam("force") {
	case "", "false":
	case "true":
		force = true
	default:
		return &latchkey.Error{Code: latchkey.EBADREQUEST, Message: "force must be true or false",
			Fields: []latchkey.FieldError{{Field: "force", Message: "must be true or false"}}}
	}
	env := latchkey.Environment(c.Param("env"))
	if err := s.store.DeleteEnvironment(c.Request().Context(), env, force); err != nil {
		if errors.Is(err, store.ErrConflict) {
			var le *latchkey.Error
			if errors.As(err, &le) {
				return &latchkey.Error{Code: le.Code, Fields: le.Fields, Message: le.Message + " (DELETE with ?force=true)"}
			}
		}
		return err
	}
	s.keys.flush()
	ev := event(c, latchkey.AuditEnvironmentDelete)
	ev.Detail = "environment " + string(env)
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

type promoteBody struct {
	// To is the environment the document is copied to.
	To string `json:"to"`
	// Apply, when false, only shows what would change.
	Apply bool `json:"apply"`
}

// promotion is what a promotion answers: the documents' difference, and
// whether it was applied.
type promotion struct {
	App      string               `json:"app"`
	From     latchkey.Environment `json:"from"`
	To       latchkey.Environment `json:"to"`
	Diff     string               `json:"diff"`
	Changed  bool                 `json:"changed"`
	Applied  bool                 `json:"applied"`
	Revision int64                `json:"revision,omitempty"`
}

// promoteApp copies the document of an app from the request's environment
// to another one: the document only (org values, connections, keys and
// webhooks stay where they are). Without "apply": true it answers the
// difference of the two documents (secret values redacted) and changes
// nothing; with it, it saves the document in the target environment and
// audits the promotion in both.
func (s *Server) promoteApp(c echo.Context) error {
	if err := requireSession(c); err != nil {
		return err
	}
	var body promoteBody
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, `the body must be a JSON object: {"to": "prod", "apply": false}`)
	}
	ctx := c.Request().Context()
	from := latchkey.EnvironmentFrom(ctx)
	to := latchkey.Environment(body.To)
	if to == "" || to == from {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: "a promotion needs another environment to copy the document to",
			Fields: []latchkey.FieldError{{Field: "to", Message: "must name an environment other than " + string(from)}}}
	}
	if _, err := s.store.GetEnvironment(ctx, to); errors.Is(err, store.ErrNotFound) {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: fmt.Sprintf("environment %q not found", to),
			Fields: []latchkey.FieldError{{Field: "to", Message: "names no environment"}}}
	} else if err != nil {
		return err
	}
	app, err := s.store.GetApp(ctx, c.Param("app"))
	if err != nil {
		return err
	}
	toCtx := latchkey.WithEnvironment(ctx, to)
	var old latchkey.App
	if cur, err := s.store.GetApp(toCtx, app.Name); err == nil {
		old = cur
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	diff := DocumentDiff(old, app)
	out := promotion{App: app.Name, From: from, To: to, Diff: diff, Changed: diff != ""}
	if !body.Apply {
		return c.JSON(http.StatusOK, out)
	}
	doc := app
	doc.Revision = 0
	saved, err := s.engine.SaveApp(toCtx, doc)
	if err != nil {
		return err
	}
	out.Applied, out.Revision = true, saved.Revision
	for _, env := range []latchkey.Environment{from, to} {
		ev := event(c, latchkey.AuditAppPromote)
		ev.Env, ev.App = env, app.Name
		ev.Detail = fmt.Sprintf("document promoted from %s to %s (revision %d there)", from, to, saved.Revision)
		s.audit.record(ctx, ev)
	}
	return c.JSON(http.StatusOK, out)
}

// DocumentDiff returns the line difference of two app documents, each
// shown as indented JSON with its secret values redacted: lines only in a
// are marked "-", lines only in b "+", shared ones " ". It is "" when the
// documents are the same; a is the zero App when there is none.
func DocumentDiff(a, b latchkey.App) string {
	lines := func(app latchkey.App) []string {
		if app.Name == "" {
			return nil
		}
		app.Revision = 0
		r := app.Redact()
		r.CreatedAt, r.UpdatedAt = b.CreatedAt, b.CreatedAt
		data, _ := json.MarshalIndent(r, "", "  ")
		return strings.Split(string(data), "\n")
	}
	x, y := lines(a), lines(b)
	// The longest common subsequence, by dynamic programming: documents
	// are small.
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	changed := false
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j, changed = j+1, true
		default:
			out.WriteString("- " + x[i] + "\n")
			i, changed = i+1, true
		}
	}
	if !changed {
		return ""
	}
	return out.String()
}
