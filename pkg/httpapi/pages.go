package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

type pageSet map[string]*template.Template

type resultPage struct {
	OK                  bool
	Title               string
	Message             string
	Label               string
	ProviderCode        string
	ProviderDescription string
	Hint                string
	ReturnTo            string
	RequestID           string
	// Popup pages post PopupMessage to their opener, whose origin must be
	// one of OpenerOrigins, and close; their one inline script carries
	// Nonce. A popup page that has no opener (the link was opened in the
	// tab itself, as the connect SDK does on mobile) goes on to BackURL
	// when it is set, as a link without popup would.
	Popup         bool
	Nonce         string
	OpenerOrigins []string
	PopupMessage  map[string]string
	BackURL       string
}

func (p resultPage) withProvider(pe *latchkey.ProviderError) resultPage {
	if pe != nil {
		p.ProviderCode = pe.Code
		p.ProviderDescription = pe.Description
		if p.ProviderCode == "" && pe.Status != 0 {
			p.ProviderCode = "HTTP " + http.StatusText(pe.Status)
		}
		if pe.Code == "access_denied" {
			p.Hint = "Access was not allowed. If this was a mistake, start again from the app."
		}
	}
	return p
}

func (s *Server) render(c echo.Context, status int, page string, data any) error {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// popupMessage is what a popup's result page posts to its opener: the
// outcome and which connection it was for, never a token. An error carries
// Latchkey's code and safe message, and the provider's error and
// error_description (RFC 6749 §4.1.2.1, §5.2) when it answered one: what
// the page itself shows the user.
func popupMessage(key latchkey.ConnectionKey, le *latchkey.Error) map[string]string {
	m := map[string]string{"type": "latchkey:connection", "status": "connected", "app": key.App, "config": key.Config}
	if le != nil {
		m["status"] = "error"
		m["error"] = le.Code
		m["message"] = le.Message
		if le.Provider != nil && le.Provider.Code != "" {
			m["provider_error"] = le.Provider.Code
			if le.Provider.Description != "" {
				m["provider_error_description"] = le.Provider.Description
			}
		}
	}
	return m
}

// asPopup makes p a popup page: it allows one inline script by a fresh
// nonce in this response's Content-Security-Policy only, and names the
// origins that may receive the message (popupOrigins).
func (s *Server) asPopup(c echo.Context, p resultPage, msg map[string]string) (resultPage, error) {
	origins := s.popupOrigins(c.Request().Context(), msg["app"])
	if len(origins) == 0 {
		return p, nil // no origin to post to: the page still says what happened
	}
	nonce, err := scriptNonce(c)
	if err != nil {
		return p, err
	}
	p.Popup = true
	p.Nonce = nonce
	p.OpenerOrigins = origins
	p.PopupMessage = msg
	return p, nil
}

// scriptNonce returns a fresh nonce and allows, in this response's
// Content-Security-Policy only, the inline scripts that carry it: the
// pages' policy (pageCSP) allows no other script.
func scriptNonce(c echo.Context) (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b)
	h := c.Response().Header()
	csp := h.Get("Content-Security-Policy")
	if csp != "" {
		csp += "; "
	}
	h.Set("Content-Security-Policy", csp+"script-src 'nonce-"+nonce+"'")
	return nonce, nil
}

// popupOrigins are the origins a popup's result page posts its message to:
// Latchkey's public origin (the builder UI's "Test connection") and the
// origin of each of the app's allowed_return_urls (the app's pages, which
// open links with the connect SDK). A message is posted once per origin with
// that origin as postMessage's target, never "*": the browser delivers it
// only to an opener whose origin is the target, so an opener elsewhere
// learns nothing, not even the outcome.
func (s *Server) popupOrigins(ctx context.Context, app string) []string {
	var origins []string
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return
		}
		o := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	add(s.engine.PublicURL())
	if c, err := s.engine.App(ctx, app); err == nil {
		for _, r := range c.App.AllowedReturnURLs {
			add(r)
		}
	} else if latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		s.logger.WarnContext(ctx, "popup page: cannot read the app's allowed return URLs", "app", app, "error", err)
	}
	return origins
}

// successURL is where a successful callback sends the browser back to the
// app: its return_to with connection=success and the config's name added.
func successURL(returnTo, config string) (string, bool) {
	u, err := url.Parse(returnTo)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("connection", "success")
	q.Set("config", config)
	u.RawQuery = q.Encode()
	return u.String(), true
}

func (s *Server) renderResult(c echo.Context, status int, p resultPage) {
	if err := s.render(c, status, "result.html", p); err != nil {
		s.logger.Error("cannot render the result page", "error", err)
		_ = c.String(http.StatusInternalServerError, "internal error")
	}
}

// landing shows the page where a user allows access, without using the link.
func (s *Server) landing(c echo.Context) error {
	token := c.Param("token")
	l, err := s.engine.Landing(c.Request().Context(), token)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "landing.html", map[string]any{
		"AppLabel": l.AppLabel, "Label": l.Label, "Description": l.Description, "LogoURL": l.LogoURL,
		"Scopes": l.Scopes, "ExpiresAt": l.ExpiresAt.UTC(), "Action": "/connect/" + url.PathEscape(token),
	})
}

// authorize takes the landing page's form: Allow sends the browser to the
// provider (303) with a cookie that binds the flow to this browser; Cancel
// uses the link up and ends on a page that says so.
func (s *Server) authorize(c echo.Context) error {
	token := c.Param("token")
	if c.FormValue("cancel") != "" {
		l, err := s.engine.Cancel(c.Request().Context(), token)
		if err != nil {
			return err
		}
		p := resultPage{Title: "Not connected", Label: l.Label, Message: "You cancelled. Nothing was shared with " + l.AppLabel + "."}
		if l.Popup {
			msg := popupMessage(l.Key, nil)
			msg["status"], msg["error"] = "error", "cancelled"
			if p, err = s.asPopup(c, p, msg); err != nil {
				return err
			}
		}
		return s.render(c, http.StatusOK, "result.html", p)
	}
	a, err := s.engine.Authorize(c.Request().Context(), token)
	if err != nil {
		return err
	}
	cookie := s.flowCookie(a.State)
	cookie.Value = a.BrowserNonce
	cookie.MaxAge = max(int(a.ExpiresAt.Sub(s.now()).Seconds()), 1)
	c.SetCookie(cookie)
	return c.Redirect(http.StatusSeeOther, a.URL)
}

// flowCookie is the cookie, without its value, that keeps the browser nonce
// of one flow's state until the callback (RFC 6749 §10.12, RFC 9700
// §4.7.1). Each state has a cookie of its own, named after a hash of the
// state, so that flows running at once in one browser never clobber each
// other. It is HttpOnly, SameSite=Lax (a provider's redirect back is a
// top-level GET, which carries it), sent only to the callback's path, and
// Secure with the __Secure- prefix when Latchkey's public URL is https
// (__Host- would need Path=/).
func (s *Server) flowCookie(state string) *http.Cookie {
	sum := sha256.Sum256([]byte(state))
	ck := &http.Cookie{Name: "latchkey_flow_" + hex.EncodeToString(sum[:8]), Path: "/oauth/callback",
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if u, err := url.Parse(s.engine.CallbackURL()); err == nil {
		if u.EscapedPath() != "" {
			ck.Path = u.EscapedPath()
		}
		if u.Scheme == "https" {
			ck.Secure = true
			ck.Name = "__Secure-" + ck.Name
		}
	}
	return ck
}

// callback takes the provider's redirect. Success ends on a success page or
// a 303 to the link's return_to (checked against the app's allowed return
// URLs when the link was made); any failure ends on an error page. A
// callback whose browser lacks its state's cookie is refused (403), uses the
// state up, stores nothing and is recorded in the audit log.
func (s *Server) callback(c echo.Context) error {
	ctx := c.Request().Context()
	var nonce string
	if state := c.QueryParam("state"); state != "" {
		ck := s.flowCookie(state)
		if got, err := c.Cookie(ck.Name); err == nil {
			nonce = got.Value
		}
		ck.MaxAge = -1 // the state is used up whatever happens next
		c.SetCookie(ck)
	}
	res, err := s.engine.Callback(ctx, c.QueryParams(), nonce)
	if err != nil {
		le := toDomainError(err)
		status := statusOf[le.Code]
		if status >= 500 && le.Code != latchkey.EPROVIDER {
			return err
		}
		if le.Code == latchkey.EPROVIDER {
			status = callbackProviderStatus(le.Provider)
		}
		if errors.Is(err, flow.ErrOtherBrowser) {
			detail := "the browser that came back differs from the one that pressed Allow"
			if nonce == "" {
				detail = "the browser that came back holds no cookie of the flow"
			}
			s.audit.record(ctx, latchkey.AuditEvent{Actor: "browser", Action: latchkey.AuditCallbackRefused, App: res.Key.App,
				Org: res.Key.Org, User: res.Key.User, Config: res.Key.Config, Detail: detail})
		}
		p := resultPage{Title: titleOf(le), Message: le.Message, Label: res.Label, ReturnTo: res.ReturnTo,
			RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}.withProvider(le.Provider)
		if errors.Is(err, flow.ErrOtherBrowser) {
			p.Title = "Not connected: this sign-in began in another browser"
		}
		if res.Popup {
			if p, err = s.asPopup(c, p, popupMessage(res.Key, le)); err != nil {
				return err
			}
		}
		s.renderResult(c, status, p)
		return nil
	}
	back, hasBack := "", false
	if res.ReturnTo != "" {
		back, hasBack = successURL(res.ReturnTo, res.Key.Config)
	}
	if hasBack && !res.Popup {
		return c.Redirect(http.StatusSeeOther, back)
	}
	p := resultPage{OK: true, Label: res.Label, ReturnTo: res.ReturnTo}
	if res.Popup {
		p.BackURL = back
		if p, err = s.asPopup(c, p, popupMessage(res.Key, nil)); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "result.html", p)
}

// callbackProviderStatus is the status of a result page for a provider's
// error at the callback. A refusal (the provider's OAuth error code, RFC
// 6749 §4.1.2.1 and §5.2, such as invalid_grant, also when it comes with
// HTTP 200 as some providers send it, or a 4xx answer) means Latchkey worked and the provider
// said no: 400. A provider that cannot be reached, fails (5xx, 429,
// server_error, temporarily_unavailable) or answers what is no token
// response: 502, so that 5xx counts only failures.
func callbackProviderStatus(pe *latchkey.ProviderError) int {
	if pe == nil || pe.Status == http.StatusTooManyRequests || pe.Status >= 500 {
		return http.StatusBadGateway
	}
	switch pe.Code {
	case "server_error", "temporarily_unavailable":
		return http.StatusBadGateway
	case "":
		if pe.Status >= 400 {
			return http.StatusBadRequest
		}
		return http.StatusBadGateway
	}
	return http.StatusBadRequest
}
