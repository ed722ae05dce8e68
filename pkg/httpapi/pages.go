package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

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
	// OpenerOrigin, and close; their one inline script carries Nonce.
	Popup        bool
	Nonce        string
	OpenerOrigin string
	PopupMessage map[string]string
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
// outcome and which connection it was for, never a token.
func popupMessage(key latchkey.ConnectionKey, le *latchkey.Error) map[string]string {
	m := map[string]string{"type": "latchkey:connection", "status": "connected", "app": key.App, "config": key.Config}
	if le != nil {
		m["status"] = "error"
		m["error"] = le.Code
		if le.Provider != nil && le.Provider.Code != "" {
			m["provider_error"] = le.Provider.Code
		}
	}
	return m
}

// asPopup makes p a popup page: it allows one inline script by a fresh
// nonce in this response's Content-Security-Policy only, and names the
// builder UI's origin (Latchkey's public origin) as the only one that may
// receive the message.
func (s *Server) asPopup(c echo.Context, p resultPage, msg map[string]string) (resultPage, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return p, err
	}
	u, err := url.Parse(s.engine.PublicURL())
	if err != nil || u.Scheme == "" || u.Host == "" {
		return p, nil // no origin to post to: the page still says what happened
	}
	p.Popup = true
	p.Nonce = base64.RawURLEncoding.EncodeToString(b)
	p.OpenerOrigin = u.Scheme + "://" + u.Host
	p.PopupMessage = msg
	h := c.Response().Header()
	csp := h.Get("Content-Security-Policy")
	if csp != "" {
		csp += "; "
	}
	h.Set("Content-Security-Policy", csp+"script-src 'nonce-"+p.Nonce+"'")
	return p, nil
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
// provider (303), Cancel ends on a page that says so.
func (s *Server) authorize(c echo.Context) error {
	token := c.Param("token")
	if c.FormValue("cancel") != "" {
		l, err := s.engine.Landing(c.Request().Context(), token)
		if err != nil {
			return err
		}
		p := resultPage{Title: "Not connected", Label: l.Label, Message: "You cancelled. Nothing was shared with " + l.AppLabel + "."}
		if key, popup, err := s.engine.LinkPopup(c.Request().Context(), token); err == nil && popup {
			msg := popupMessage(key, nil)
			msg["status"], msg["error"] = "error", "cancelled"
			if p, err = s.asPopup(c, p, msg); err != nil {
				return err
			}
		}
		return s.render(c, http.StatusOK, "result.html", p)
	}
	target, err := s.engine.Authorize(c.Request().Context(), token)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// callback takes the provider's redirect. Success ends on a success page or
// a 303 to the link's return_to (checked against the app's allowed return
// URLs when the link was made); any failure ends on an error page.
func (s *Server) callback(c echo.Context) error {
	res, err := s.engine.Callback(c.Request().Context(), c.QueryParams())
	if err != nil {
		le := toDomainError(err)
		status := statusOf[le.Code]
		if status >= 500 && le.Code != latchkey.EPROVIDER {
			return err
		}
		if le.Code == latchkey.EPROVIDER {
			status = http.StatusBadGateway
			if le.Provider != nil && le.Provider.Status == 0 {
				status = http.StatusBadRequest // the user or provider ended the flow on the callback
			}
		}
		p := resultPage{Title: titleOf(le), Message: le.Message, Label: res.Label, ReturnTo: res.ReturnTo,
			RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}.withProvider(le.Provider)
		if res.Popup {
			if p, err = s.asPopup(c, p, popupMessage(res.Key, le)); err != nil {
				return err
			}
		}
		s.renderResult(c, status, p)
		return nil
	}
	if res.ReturnTo != "" && !res.Popup {
		u, perr := url.Parse(res.ReturnTo)
		if perr == nil {
			q := u.Query()
			q.Set("connection", "success")
			q.Set("config", res.Key.Config)
			u.RawQuery = q.Encode()
			return c.Redirect(http.StatusSeeOther, u.String())
		}
	}
	p := resultPage{OK: true, Label: res.Label, ReturnTo: res.ReturnTo}
	if res.Popup {
		if p, err = s.asPopup(c, p, popupMessage(res.Key, nil)); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "result.html", p)
}
