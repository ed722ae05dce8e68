package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Install links: how long they live unless asked otherwise, and at most.
// A link is single-use: the save that installs the app uses it up.
const (
	DefaultInstallLinkTTL = time.Hour
	MaxInstallLinkTTL     = 24 * time.Hour
	MinInstallLinkTTL     = time.Minute
)

// Audit actions of install links: issued by an admin, used by an org
// (with installation.put for the values it set), revoked by an admin.
const (
	AuditInstallLinkCreate = "install_link.create"
	AuditInstallLinkUse    = "install_link.use"
	AuditInstallLinkRevoke = "install_link.revoke"
)

// installActorPrefix starts the audit actor of a change made through an
// install link; the link's id follows.
const installActorPrefix = "install-link:"

func (s *Server) installRoutes(e *echo.Echo, api *echo.Group) {
	api.POST("/apps/:app/orgs/:org/install-link", s.createInstallLink)
	api.GET("/apps/:app/install-links", s.listInstallLinks)
	api.DELETE("/apps/:app/install-links/:id", s.revokeInstallLink)
	e.GET("/install/:app", s.installPrompt)
	e.POST("/install/:app", s.installSave)
}

// installLinkView is an install link as the API lists it: never its token.
type installLinkView struct {
	store.InstallLink
	State string `json:"state"`
}

// createInstallLink issues a link to the install prompt of an app for one
// org, for admins only: whoever holds it sets the org's client credentials.
// {"expires_in": seconds} is optional (default an hour, at most a day). The
// link's token is shown once; the store keeps its hash.
func (s *Server) createInstallLink(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	app, org := c.Param("app"), c.Param("org")
	if !latchkey.ValidID(org) {
		return latchkey.Errorf(latchkey.EINVALID, "the org id %s", latchkey.IDRule)
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
		if req.ExpiresIn < int64(MinInstallLinkTTL/time.Second) || req.ExpiresIn > int64(MaxInstallLinkTTL/time.Second) {
			return &latchkey.Error{Code: latchkey.EINVALID, Message: "the install link's lifetime is out of range",
				Fields: []latchkey.FieldError{{Field: "expires_in", Message: fmt.Sprintf("must be from %d to %d seconds",
					int64(MinInstallLinkTTL/time.Second), int64(MaxInstallLinkTTL/time.Second))}}}
		}
		ttl = time.Duration(req.ExpiresIn) * time.Second
	}
	token, err := randomID()
	if err != nil {
		return err
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return err
	}
	now := s.now().UTC()
	link := store.InstallLink{ID: "il_" + hex.EncodeToString(idb), App: app, Org: org, CreatedBy: callerKey(c).ID,
		CreatedAt: now.Truncate(time.Second), ExpiresAt: now.Add(ttl).Truncate(time.Second)}
	if err := s.store.CreateInstallLink(c.Request().Context(), token, link); err != nil {
		return err
	}
	u := s.engine.PublicURL() + "/install/" + url.PathEscape(app) + "?" + url.Values{"token": {token}}.Encode()
	ev := event(c, AuditInstallLinkCreate)
	ev.App, ev.Org, ev.Detail = app, org, "link "+link.ID+" expires "+link.ExpiresAt.Format(time.RFC3339)
	s.audit.record(c.Request().Context(), ev)
	noStore(c)
	return c.JSON(http.StatusCreated, map[string]any{"id": link.ID, "url": u, "expires_at": link.ExpiresAt,
		"install_link": installLinkView{InstallLink: link, State: link.State(now)}})
}

// listInstallLinks lists an app's install links (?org= for one org's),
// newest first, with their state; never a token.
func (s *Server) listInstallLinks(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.GetApp(ctx, c.Param("app")); err != nil {
		return err
	}
	links, err := s.store.ListInstallLinks(ctx, c.Param("app"), c.QueryParam("org"))
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]installLinkView, 0, len(links))
	for _, l := range links {
		out = append(out, installLinkView{InstallLink: l, State: l.State(now)})
	}
	return c.JSON(http.StatusOK, map[string]any{"install_links": out})
}

// revokeInstallLink revokes an install link that has not been used, so that
// it can no longer open the install prompt.
func (s *Server) revokeInstallLink(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	app, id := c.Param("app"), c.Param("id")
	link, err := s.store.RevokeInstallLink(ctx, app, id, s.now())
	if err != nil {
		return err
	}
	ev := event(c, AuditInstallLinkRevoke)
	ev.App, ev.Org, ev.Detail = app, link.Org, "link "+id
	s.audit.record(ctx, ev)
	return c.NoContent(http.StatusNoContent)
}

// installLinkOf returns the usable install link of the request's ?token=.
func (s *Server) installLinkOf(c echo.Context) (store.InstallLink, error) {
	token := c.QueryParam("token")
	if token == "" {
		return store.InstallLink{}, latchkey.Errorf(latchkey.EBADREQUEST, "this install link is incomplete; ask the app for a new one")
	}
	l, err := s.store.GetInstallLink(c.Request().Context(), c.Param("app"), token, s.now())
	if err == nil && l.Env != "" {
		// The install page's URL carries only the token: it says the
		// environment.
		c.SetRequest(c.Request().WithContext(latchkey.WithEnvironment(c.Request().Context(), l.Env)))
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return l, latchkey.Errorf(latchkey.ENOTFOUND, "this install link is not valid, was used or was revoked; ask the app for a new one")
	case errors.Is(err, store.ErrExpired):
		return l, latchkey.Errorf(latchkey.EEXPIRED, "this install link has expired; ask the app for a new one")
	}
	return l, err
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
	// CallbackURL is the redirect URI the org registers in its OAuth app
	// at the provider, shown read-only with a copy button; "" when no
	// OAuth config of the app sends people to the provider (client
	// credentials only, or none).
	CallbackURL string
	// Nonce allows the page's one inline script, the copy button's, by
	// this response's Content-Security-Policy (scriptNonce).
	Nonce string
}

func (s *Server) installPrompt(c echo.Context) error {
	link, err := s.installLinkOf(c)
	if err != nil {
		return err
	}
	org := link.Org
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
	return s.renderInstall(c, http.StatusOK, page)
}

// renderInstall renders the install prompt; with a callback URL to copy,
// its copy button's script is allowed by a nonce of this response only.
func (s *Server) renderInstall(c echo.Context, status int, page installPage) error {
	if page.CallbackURL != "" {
		nonce, err := scriptNonce(c)
		if err != nil {
			return err
		}
		page.Nonce = nonce
	}
	return s.render(c, status, "install.html", page)
}

func (s *Server) newInstallPage(c echo.Context, app latchkey.App, org string, stored, entered map[string]string, errs map[string]string) installPage {
	label := app.Label
	if label == "" {
		label = app.Name
	}
	page := installPage{AppLabel: label, Org: org, Action: c.Request().URL.Path + "?" + c.Request().URL.RawQuery}
	for _, oc := range app.OAuthConfigs {
		if oc.Grant() == latchkey.GrantAuthorizationCode {
			page.CallbackURL = s.engine.CallbackURL()
			break
		}
	}
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
	link, err := s.installLinkOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	org := link.Org
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
		return s.renderInstall(c, http.StatusUnprocessableEntity, page)
	}
	_, _, err = s.store.InstallThroughLink(ctx, c.QueryParam("token"), s.now(), latchkey.Installation{App: app.Name, Org: org, Values: values})
	if errors.Is(err, store.ErrNotFound) {
		return latchkey.Errorf(latchkey.ENOTFOUND, "this install link was used or revoked meanwhile; ask the app for a new one")
	}
	if err != nil {
		return err
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	actor := installActorPrefix + link.ID
	s.audit.record(ctx, latchkey.AuditEvent{Actor: actor, Action: AuditInstallLinkUse, App: app.Name, Org: org, Detail: "link " + link.ID})
	s.audit.record(ctx, latchkey.AuditEvent{Actor: actor, Action: latchkey.AuditInstallationPut, App: app.Name, Org: org,
		Detail: "settings: " + strings.Join(names, ", ")})
	page := s.newInstallPage(c, app, org, values, nil, nil)
	page.Done = true
	return s.renderInstall(c, http.StatusOK, page)
}
