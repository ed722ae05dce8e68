package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Install links: how long they live unless asked otherwise, and at most.
const (
	DefaultInstallLinkTTL = 24 * time.Hour
	MaxInstallLinkTTL     = 7 * 24 * time.Hour
)

// AuditInstallLinkCreate is the audit action of an issued install link.
const AuditInstallLinkCreate = "install_link.create"

// installActor is the audit actor of a change made through an install link.
const installActor = "install-link"

func (s *Server) installRoutes(e *echo.Echo, api *echo.Group) {
	api.POST("/apps/:app/orgs/:org/install-link", s.createInstallLink)
	e.GET("/install/:app", s.installPrompt)
	e.POST("/install/:app", s.installSave)
}

// createInstallLink issues a signed, expiring link to the install prompt of
// an app for one org: {"expires_in": seconds} is optional (default a day, at
// most a week).
func (s *Server) createInstallLink(c echo.Context) error {
	app, org := c.Param("app"), c.Param("org")
	if err := requireApp(c, app); err != nil {
		return err
	}
	if !latchkey.ValidID(org) {
		return latchkey.Errorf(latchkey.EINVALID, "the org id must be 1 to 200 printable characters without '/'")
	}
	if _, err := s.store.GetApp(c.Request().Context(), app); err != nil {
		return err
	}
	var req struct {
		ExpiresIn int64 `json:"expires_in"`
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, "the request body cannot be read")
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return &latchkey.Error{Code: latchkey.EINVALID, Message: "the body must be a JSON object",
				Fields: []latchkey.FieldError{{Field: "", Message: "is not a JSON object with expires_in"}}}
		}
	}
	ttl := DefaultInstallLinkTTL
	if req.ExpiresIn != 0 {
		ttl = time.Duration(req.ExpiresIn) * time.Second
		if req.ExpiresIn < 60 || ttl > MaxInstallLinkTTL {
			return &latchkey.Error{Code: latchkey.EINVALID, Message: "the install link's lifetime is out of range",
				Fields: []latchkey.FieldError{{Field: "expires_in", Message: "must be from 60 to 604800 seconds"}}}
		}
	}
	expires := s.now().Add(ttl).UTC().Truncate(time.Second)
	sig, err := s.installSignature(c, app, org, expires.Unix())
	if err != nil {
		return err
	}
	q := url.Values{"org": {org}, "expires": {strconv.FormatInt(expires.Unix(), 10)}, "sig": {sig}}
	link := s.engine.PublicURL() + "/install/" + url.PathEscape(app) + "?" + q.Encode()
	ev := event(c, AuditInstallLinkCreate)
	ev.App, ev.Org = app, org
	s.audit.record(c.Request().Context(), ev)
	noStore(c)
	return c.JSON(http.StatusCreated, map[string]any{"url": link, "expires_at": expires})
}

// installSignature signs an install link's app, org and expiry with a server
// secret (HMAC-SHA256), which never leaves the server.
func (s *Server) installSignature(c echo.Context, app, org string, expires int64) (string, error) {
	key, err := s.serverSecret(c, "install-links")
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("install\x00" + app + "\x00" + org + "\x00" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// checkInstallLink verifies the signature and expiry of an install link's
// query and returns its org.
func (s *Server) checkInstallLink(c echo.Context) (string, error) {
	org, exp, sig := c.QueryParam("org"), c.QueryParam("expires"), c.QueryParam("sig")
	expires, err := strconv.ParseInt(exp, 10, 64)
	if org == "" || sig == "" || err != nil {
		return "", latchkey.Errorf(latchkey.EBADREQUEST, "this install link is incomplete; ask the app for a new one")
	}
	want, err := s.installSignature(c, c.Param("app"), org, expires)
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", latchkey.Errorf(latchkey.EBADREQUEST, "this install link is not valid; ask the app for a new one")
	}
	if !s.now().Before(time.Unix(expires, 0)) {
		return "", latchkey.Errorf(latchkey.EEXPIRED, "this install link has expired; ask the app for a new one")
	}
	return org, nil
}

// installField is one org-level setting on the install prompt.
type installField struct {
	Name        string
	Description string
	Required    bool
	Secret      bool
	Stored      bool   // a secret value is stored (never shown)
	Value       string // the stored or entered value of a non-secret
	Default     string
	Error       string
}

type installPage struct {
	AppLabel string
	Org      string
	Action   string
	Fields   []installField
	Message  string
	Missing  []string
	Done     bool
}

func (s *Server) installPrompt(c echo.Context) error {
	org, err := s.checkInstallLink(c)
	if err != nil {
		return err
	}
	app, err := s.store.GetApp(c.Request().Context(), c.Param("app"))
	if err != nil {
		return err
	}
	inst, err := s.store.GetInstallation(c.Request().Context(), app.Name, org)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	page := s.newInstallPage(c, app, org, inst.Values, nil, nil)
	page.Missing = app.MissingRequired(inst.Values, nil)
	if len(page.Missing) > 0 && inst.Values != nil {
		page.Message = "Some required settings are still missing."
		for i := range page.Fields {
			for _, m := range page.Missing {
				if page.Fields[i].Name == m {
					page.Fields[i].Error = "is required"
				}
			}
		}
	}
	return s.render(c, http.StatusOK, "install.html", page)
}

func (s *Server) newInstallPage(c echo.Context, app latchkey.App, org string, stored, entered map[string]string, errs map[string]string) installPage {
	label := app.Label
	if label == "" {
		label = app.Name
	}
	page := installPage{AppLabel: label, Org: org, Action: c.Request().URL.Path + "?" + c.Request().URL.RawQuery}
	for _, st := range app.Settings {
		if st.Level != latchkey.LevelOrg {
			continue
		}
		f := installField{Name: st.Name, Description: st.Description, Required: st.Required, Secret: app.IsSecret(st.Name),
			Default: st.Default, Error: errs[st.Name]}
		_, f.Stored = stored[st.Name]
		if !f.Secret {
			f.Value = stored[st.Name]
			if v, ok := entered[st.Name]; ok {
				f.Value = v
			}
		}
		page.Fields = append(page.Fields, f)
	}
	return page
}

// installSave takes the install prompt's form. A secret left empty keeps its
// stored value; the values are checked by the rules of PUT …/settings and
// saved, or the form comes back with each problem beside its field.
func (s *Server) installSave(c echo.Context) error {
	ctx := c.Request().Context()
	org, err := s.checkInstallLink(c)
	if err != nil {
		return err
	}
	app, err := s.store.GetApp(ctx, c.Param("app"))
	if err != nil {
		return err
	}
	old, err := s.store.GetInstallation(ctx, app.Name, org)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	values := map[string]string{}
	entered := map[string]string{}
	for _, st := range app.Settings {
		if st.Level != latchkey.LevelOrg {
			continue
		}
		v := strings.TrimSpace(c.FormValue("s_" + st.Name))
		entered[st.Name] = v
		prev, stored := old.Values[st.Name]
		switch {
		case v != "":
			values[st.Name] = v
		case app.IsSecret(st.Name) && stored:
			values[st.Name] = prev
		}
	}
	if verr := app.ValidateInstallation(values); verr != nil {
		errs := map[string]string{}
		var le *latchkey.Error
		if errors.As(verr, &le) {
			for _, f := range le.Fields {
				errs[f.Field] = f.Message
			}
		}
		page := s.newInstallPage(c, app, org, old.Values, entered, errs)
		page.Message = "Please correct the settings marked below."
		return s.render(c, http.StatusUnprocessableEntity, "install.html", page)
	}
	if _, err := s.store.PutInstallation(ctx, latchkey.Installation{App: app.Name, Org: org, Values: values}); err != nil {
		return err
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	s.audit.record(ctx, latchkey.AuditEvent{Actor: installActor, Action: latchkey.AuditInstallationPut, App: app.Name, Org: org,
		Detail: "settings: " + strings.Join(names, ", ")})
	page := s.newInstallPage(c, app, org, values, nil, nil)
	page.Done = true
	return s.render(c, http.StatusOK, "install.html", page)
}
