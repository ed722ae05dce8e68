package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// SessionCookie is the name of the builder UI's session cookie.
const SessionCookie = "latchkey_session"

// CSRFHeader is the header the builder UI sends on every request that
// changes something; its value is the session's CSRF token.
const CSRFHeader = "X-CSRF-Token"

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

// adminActorPrefix starts the audit actor of a signed-in admin.
const adminActorPrefix = "admin:"

// dummyHash is compared against when the email is unknown, so that a wrong
// email takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("latchkey-no-such-admin"), bcrypt.DefaultCost)

// HashPassword returns the bcrypt hash of an admin's password, refusing
// passwords shorter than 12 characters.
func HashPassword(password string) ([]byte, error) {
	if p := passwordProblem(password); p != "" {
		return nil, latchkey.Errorf(latchkey.EINVALID, "the password %s", p)
	}
	return bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
}

// passwordProblem says what HashPassword refuses in password, or "".
func passwordProblem(password string) string {
	switch {
	case password == "":
		return "is required"
	case len(password) < 12:
		return "must have at least 12 characters"
	case len(password) > 72:
		return "must have at most 72 bytes"
	}
	return ""
}

func (s *Server) sessionRoutes(e *echo.Echo) {
	e.POST("/api/v1/session", s.signIn)
	e.GET("/api/v1/session", s.currentSession, s.authenticate)
	e.DELETE("/api/v1/session", s.signOut, s.authenticate)
}

type sessionView struct {
	Email     string    `json:"email"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// signIn checks an admin's email and password and starts a session: an
// HttpOnly, SameSite=Lax cookie (Secure over TLS) holding a random id the
// store keeps only hashed.
func (s *Server) signIn(c echo.Context) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := readJSON(c, &req, jsonBody{typed: true}); err != nil {
		return err // a form or text/plain post, which another site can send, gets 415
	}
	var fe latchkey.FieldErrors
	if strings.TrimSpace(req.Email) == "" {
		fe.Add("email", "is required")
	} else if err := latchkey.CheckLine(req.Email); err != nil || len(req.Email) > 254 {
		fe.Add("email", "must be an email address of at most 254 bytes, without control characters")
	}
	if req.Password == "" {
		fe.Add("password", "is required")
	}
	if err := fe.Err("sign-in needs an email and a password"); err != nil {
		return err
	}
	ctx := c.Request().Context()
	admin, err := s.store.GetAdmin(ctx, req.Email)
	hash := admin.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		hash = dummyHash
	}
	try, wait := s.signIns.take(s.now(), c.RealIP(), accountOf(req.Email, admin, err == nil), err == nil)
	if wait > 0 {
		return tooManySignIns(c, wait)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil || err != nil {
		try.failed()
		s.auditFailedSignIn(c, req.Email, err == nil)
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "the email or the password is wrong")
	}
	try.succeeded()
	view, err := s.startSession(c, admin.Email)
	if err != nil {
		return err
	}
	s.audit.record(ctx, latchkey.AuditEvent{Actor: adminActorPrefix + admin.Email, Action: "session.create"})
	return c.JSON(http.StatusCreated, view)
}

// startSession starts a session of the admin of email: the store keeps a
// hash of its random id, the answer's cookie holds it (HttpOnly,
// SameSite=Lax, Secure over TLS) and is not stored by caches.
func (s *Server) startSession(c echo.Context, email string) (sessionView, error) {
	id, err := randomID()
	if err != nil {
		return sessionView{}, err
	}
	now := s.now()
	sess := store.Session{Email: email, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.store.CreateSession(c.Request().Context(), id, sess); err != nil {
		return sessionView{}, err
	}
	csrf, err := s.csrfToken(c, id)
	if err != nil {
		return sessionView{}, err
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: c.Scheme() == "https", Expires: sess.ExpiresAt, MaxAge: int(SessionTTL.Seconds())})
	noStore(c)
	return sessionView{Email: email, CSRFToken: csrf, ExpiresAt: sess.ExpiresAt}, nil
}

// currentSession tells the UI who is signed in, with the CSRF token to send.
func (s *Server) currentSession(c echo.Context) error {
	id, sess, ok := sessionOf(c)
	if !ok {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "not signed in")
	}
	csrf, err := s.csrfToken(c, id)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, sessionView{Email: sess.Email, CSRFToken: csrf, ExpiresAt: sess.ExpiresAt})
}

func (s *Server) signOut(c echo.Context) error {
	id, _, ok := sessionOf(c)
	if !ok {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "not signed in")
	}
	if err := s.store.DeleteSession(c.Request().Context(), id); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: c.Scheme() == "https", MaxAge: -1})
	return c.NoContent(http.StatusNoContent)
}

const sessionContext = "latchkey.session"

type sessionInfo struct {
	id   string
	sess store.Session
}

func sessionOf(c echo.Context) (string, store.Session, bool) {
	si, ok := c.Get(sessionContext).(sessionInfo)
	return si.id, si.sess, ok
}

// authenticateSession authenticates a request by its session cookie. A
// request that changes something must carry the session's CSRF token in
// X-CSRF-Token. The caller acts as an admin key whose id names the admin.
func (s *Server) authenticateSession(c echo.Context, cookie *http.Cookie) error {
	if !latchkey.ValidToken(cookie.Value) { // not one we set: nothing to look up
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "the session has ended; sign in again")
	}
	sess, err := s.store.GetSession(c.Request().Context(), cookie.Value, s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "the session has ended; sign in again")
	}
	if err != nil {
		return err
	}
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		want, err := s.csrfToken(c, cookie.Value)
		if err != nil {
			return err
		}
		got := c.Request().Header.Get(CSRFHeader)
		if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "the CSRF token is missing or wrong: send the session's token in %s", CSRFHeader)
		}
	}
	c.Set(sessionContext, sessionInfo{id: cookie.Value, sess: sess})
	c.Set(keyContext, latchkey.APIKey{ID: adminActorPrefix + sess.Email, Name: sess.Email, Scope: latchkey.ScopeAdmin, CreatedAt: sess.CreatedAt})
	return nil
}

// csrfToken derives a session's CSRF token from its id with a server secret,
// so nothing more is stored and every replica derives the same.
func (s *Server) csrfToken(c echo.Context, sessionID string) (string, error) {
	key, err := s.serverSecret(c, "csrf")
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// serverSecret returns a server secret (the CSRF key),
// read from the store once: it never changes while the store holds it.
func (s *Server) serverSecret(c echo.Context, name string) ([]byte, error) {
	if v, ok := s.secrets.Load(name); ok {
		return v.([]byte), nil
	}
	b, err := s.store.ServerSecret(c.Request().Context(), name)
	if err != nil {
		return nil, err
	}
	s.secrets.Store(name, b)
	return b, nil
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
