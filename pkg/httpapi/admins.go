package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Admin accounts of the builder UI, managed over the API as the CLI
// (latchkey admins) manages them on the database. They are instance-wide,
// as sessions are: every environment has the same admins. Signed-in admins
// and admin API keys may call these routes; a token of Latchkey's OAuth
// server never may (latchkey.PermAdminsManage), since an admin account it
// made would have every permission its scopes do not grant.
//
// A password change ends every session of that admin. When admins change
// their own password, they give the current one, and their own session is
// renewed: the answer sets a new session cookie and carries its CSRF token,
// so the builder UI stays signed in while every other browser is signed
// out.

// MaxAdminEmail is the most bytes an admin's email may have (RFC 5321's
// limit on a path).
const MaxAdminEmail = 254

func (s *Server) adminRoutes(g *echo.Group) {
	g.GET("/admins", s.listAdmins)
	g.POST("/admins", s.createAdmin)
	g.DELETE("/admins/:email", s.deleteAdmin)
	g.PUT("/admins/:email/password", s.setAdminPassword)
}

// adminView is an admin account as the API shows it: never its hash.
type adminView struct {
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listAdmins(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	admins, err := s.store.ListAdmins(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]adminView, len(admins))
	for i, a := range admins {
		out[i] = adminView{Email: a.Email, CreatedAt: a.CreatedAt}
	}
	return c.JSON(http.StatusOK, map[string]any{"admins": out})
}

// CheckAdminEmail returns what is wrong with an admin's email, or nil. An
// email is also a path segment of the admin routes, so it holds none of the
// characters an id may not (latchkey.CheckID); the CLI checks the same.
func CheckAdminEmail(email string) error {
	local, domain, ok := strings.Cut(email, "@")
	switch {
	case strings.TrimSpace(email) == "":
		return errors.New("is required")
	case len(email) > MaxAdminEmail, latchkey.CheckID(email) != nil,
		!ok, local == "", domain == "", strings.Contains(domain, "@"):
		return errors.New("must be an email address (name@domain) of at most 254 bytes, without spaces, control characters, '/', '\\', '%', '?' or '#'")
	}
	return nil
}

// hashField hashes a password given in field, or returns the field error.
func hashField(field, password string) ([]byte, error) {
	if p := passwordProblem(password); p != "" {
		return nil, fieldError(latchkey.EINVALID, "the password is not valid", field, p)
	}
	return HashPassword(password)
}

// createAdmin adds an admin account that signs in with email and password.
func (s *Server) createAdmin(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := readJSON(c, &req, jsonBody{}); err != nil {
		return err
	}
	req.Email = strings.ToLower(strings.TrimSpace(req.Email))
	var fe latchkey.FieldErrors
	if err := CheckAdminEmail(req.Email); err != nil {
		fe.Add("email", "%v", err)
	}
	if p := passwordProblem(req.Password); p != "" {
		fe.Add("password", "%s", p)
	}
	if err := fe.Err("the admin account is not valid"); err != nil {
		return err
	}
	hash, err := HashPassword(req.Password)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	now := s.now()
	if err := s.store.CreateAdmin(ctx, store.Admin{Email: req.Email, PasswordHash: hash, CreatedAt: now}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fieldError(latchkey.ECONFLICT, "an admin with this email exists already", "email", "is taken by another admin account")
		}
		return err
	}
	ev := event(c, latchkey.AuditAdminCreate)
	ev.Detail = "admin " + req.Email
	s.audit.record(ctx, ev)
	return c.JSON(http.StatusCreated, adminView{Email: req.Email, CreatedAt: now.UTC()})
}

// deleteAdmin deletes an admin account and ends its sessions. Signed-in
// admins cannot delete themselves (another admin can), and the last admin
// is never deleted.
func (s *Server) deleteAdmin(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	email := strings.ToLower(c.Param("email"))
	if _, sess, ok := sessionOf(c); ok && sess.Email == email {
		return fieldError(latchkey.ECONFLICT, "you cannot delete the account you are signed in with: another admin can", "email",
			"is your own account")
	}
	ctx := c.Request().Context()
	if err := s.store.DeleteAdmin(ctx, email); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditAdminDelete)
	ev.Detail = "admin " + email
	s.audit.record(ctx, ev)
	return c.NoContent(http.StatusNoContent)
}

// setAdminPassword replaces an admin's password and ends the admin's
// sessions. Admins changing their own give current_password, and get a
// new session (200, with its CSRF token); another admin's password is
// reset without it (204).
func (s *Server) setAdminPassword(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var req struct {
		Password        string `json:"password"`
		CurrentPassword string `json:"current_password"`
	}
	if err := readJSON(c, &req, jsonBody{}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	email := strings.ToLower(c.Param("email"))
	_, sess, signedIn := sessionOf(c)
	own := signedIn && sess.Email == email
	hash, err := hashField("password", req.Password)
	if err != nil {
		return err
	}
	if own {
		if err := s.checkCurrentPassword(c, email, req.CurrentPassword); err != nil {
			return err
		}
	} else if req.CurrentPassword != "" {
		return fieldError(latchkey.EINVALID, "only admins changing their own password give the current one", "current_password",
			"is not taken when changing another admin's password")
	}
	if err := s.store.SetAdminPassword(ctx, email, hash); err != nil {
		return err
	}
	ev := event(c, latchkey.AuditAdminPassword)
	ev.Detail = "admin " + email + ": password changed, sessions ended"
	s.audit.record(ctx, ev)
	if !own {
		return c.NoContent(http.StatusNoContent)
	}
	view, err := s.startSession(c, email)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// checkCurrentPassword checks a signed-in admin's current password,
// throttled as sign-ins are: a stolen session cannot guess it faster.
func (s *Server) checkCurrentPassword(c echo.Context, email, password string) error {
	if password == "" {
		return fieldError(latchkey.EINVALID, "give your current password to change it", "current_password", "is required")
	}
	admin, err := s.store.GetAdmin(c.Request().Context(), email)
	if err != nil {
		return err
	}
	try, wait := s.signIns.take(s.now(), c.RealIP(), admin.Email, true)
	if wait > 0 {
		return tooManySignIns(c, wait)
	}
	if bcrypt.CompareHashAndPassword(admin.PasswordHash, []byte(password)) != nil {
		try.failed()
		return fieldError(latchkey.EFORBIDDEN, "the current password is wrong", "current_password", "is not your current password")
	}
	try.succeeded()
	return nil
}
