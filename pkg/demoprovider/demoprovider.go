package demoprovider

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/generates"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
)

// DemoPassword is the password of every demo user. It is shown on the login
// page: the demo protects nothing.
const DemoPassword = "demo"

// The quickstart client: the credentials `latchkey demo-provider` accepts by
// default and configs/apps/demo.yaml fixes in its values. They protect
// nothing.
const (
	QuickstartClientID     = "demo-client"
	QuickstartClientSecret = "demo-secret"
)

// Default lifetimes.
const (
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 14 * 24 * time.Hour
)

// Config configures the demo provider.
type Config struct {
	// ClientID and ClientSecret are the one client's credentials; both are
	// required.
	ClientID, ClientSecret string
	// ClientName is shown on the consent page; the client id when empty.
	ClientName string
	// RedirectURIs are the client's registered callback URLs. When empty,
	// any http URL on a loopback host (127.0.0.1, localhost, [::1]) is
	// accepted (RFC 8252 §7.3).
	RedirectURIs []string
	// AccessTTL is the access tokens' lifetime; DefaultAccessTTL when 0.
	AccessTTL time.Duration
	// RequirePKCE refuses authorization requests without a code_challenge
	// (RFC 7636 §4.4.1).
	RequirePKCE bool
	// Logger receives a line per login, consent and failed request, without
	// any secret; nothing is logged when nil.
	Logger *slog.Logger
}

// provider is the demo's state beside the library's.
type provider struct {
	cfg Config
	srv *server.Server
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]session // by cookie value
}

type session struct {
	user string
	csrf string
}

const cookieName = "demoprovider_session"

// New returns the demo provider's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("demoprovider: ClientID and ClientSecret are required")
	}
	for _, u := range cfg.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Fragment != "" {
			return nil, fmt.Errorf("demoprovider: redirect URI %q must be an absolute URL without a fragment", u)
		}
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.ClientName == "" {
		cfg.ClientName = cfg.ClientID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &provider{cfg: cfg, log: cfg.Logger, sessions: map[string]session{}}

	m := manage.NewDefaultManager()
	m.SetAuthorizeCodeExp(10 * time.Minute)
	m.SetAuthorizeCodeTokenCfg(&manage.Config{AccessTokenExp: cfg.AccessTTL, RefreshTokenExp: DefaultRefreshTTL, IsGenerateRefresh: true})
	// Refresh tokens rotate: the old access and refresh tokens die (RFC 6749
	// §6, §10.4).
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{AccessTokenExp: cfg.AccessTTL, RefreshTokenExp: DefaultRefreshTTL,
		IsGenerateRefresh: true, IsResetRefreshTime: true, IsRemoveAccess: true, IsRemoveRefreshing: true})
	m.MapAccessGenerate(generates.NewAccessGenerate())
	m.MustTokenStorage(store.NewMemoryTokenStore())
	clients := store.NewClientStore()
	domain := "http://127.0.0.1"
	if len(cfg.RedirectURIs) > 0 {
		domain = cfg.RedirectURIs[0]
	}
	if err := clients.Set(cfg.ClientID, &models.Client{ID: cfg.ClientID, Secret: cfg.ClientSecret, Domain: domain}); err != nil {
		return nil, fmt.Errorf("demoprovider: %w", err)
	}
	m.MapClientStorage(clients)
	m.SetValidateURIHandler(func(_, redirect string) error {
		if !p.redirectAllowed(redirect) {
			return oerrors.ErrInvalidRedirectURI
		}
		return nil
	})

	sc := server.NewConfig()
	sc.AllowedResponseTypes = []oauth2.ResponseType{oauth2.Code}
	sc.AllowedGrantTypes = []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing}
	sc.AllowedCodeChallengeMethods = []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256, oauth2.CodeChallengePlain}
	sc.ForcePKCE = cfg.RequirePKCE
	srv := server.NewServer(sc, m)
	srv.ClientInfoHandler = clientInfo
	srv.UserAuthorizationHandler = p.consentingUser
	srv.InternalErrorHandler = func(err error) *oerrors.Response {
		p.log.Error("demoprovider: internal error", "err", err)
		return nil
	}
	srv.ResponseErrorHandler = func(re *oerrors.Response) {
		p.log.Info("demoprovider: request refused", "error", re.Error, "status", re.StatusCode)
	}
	p.srv = srv

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("GET /authorize", p.authorizePage)
	mux.HandleFunc("POST /authorize", p.authorizeDecision)
	mux.HandleFunc("POST /login", p.login)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /api/me", p.me)
	return securityHeaders(mux), nil
}

// clientInfo reads the client's credentials from an HTTP Basic header or,
// failing that, from the form body (RFC 6749 §2.3.1).
func clientInfo(r *http.Request) (string, string, error) {
	if id, secret, ok := r.BasicAuth(); ok {
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		if err1 == nil && err2 == nil {
			return uid, usecret, nil
		}
		return id, secret, nil
	}
	return server.ClientFormHandler(r)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// redirectAllowed reports whether u may receive codes: a registered URI, or
// with none registered, an http URL on a loopback host.
func (p *provider) redirectAllowed(u string) bool {
	if len(p.cfg.RedirectURIs) > 0 {
		return slices.Contains(p.cfg.RedirectURIs, u)
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "http" || pu.Fragment != "" || pu.User != nil {
		return false
	}
	host := pu.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (p *provider) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[c.Value]
	return s, ok
}

// checkRequest validates the client and redirect URI of an authorization
// request; errors about them are shown, never redirected (RFC 6749
// §4.1.2.1).
func (p *provider) checkRequest(q url.Values) string {
	if q.Get("client_id") != p.cfg.ClientID {
		return "The client_id is unknown."
	}
	if q.Get("redirect_uri") == "" {
		return "The redirect_uri is required."
	}
	if !p.redirectAllowed(q.Get("redirect_uri")) {
		return "The redirect_uri is not allowed for this client."
	}
	return ""
}

// authorizeParams are the parameters of an authorization request carried
// through the login and consent forms.
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"}

func carried(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range authorizeParams {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

func (p *provider) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if msg := p.checkRequest(q); msg != "" {
		p.render(w, http.StatusBadRequest, errorTmpl, map[string]any{"Message": msg})
		return
	}
	s, ok := p.session(r)
	if !ok {
		p.render(w, http.StatusOK, loginTmpl, map[string]any{"Params": carried(q), "Password": DemoPassword, "Client": p.cfg.ClientName})
		return
	}
	p.render(w, http.StatusOK, consentTmpl, map[string]any{"Params": carried(q), "Client": p.cfg.ClientName,
		"Scopes": strings.Fields(q.Get("scope")), "User": s.user, "CSRF": s.csrf})
}

func (p *provider) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	params := carried(r.PostForm)
	if msg := p.checkRequest(params); msg != "" {
		p.render(w, http.StatusBadRequest, errorTmpl, map[string]any{"Message": msg})
		return
	}
	user := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if user == "" || len(user) > 64 || subtle.ConstantTimeCompare([]byte(password), []byte(DemoPassword)) != 1 {
		p.log.Info("demoprovider: login refused", "user", user)
		p.render(w, http.StatusUnauthorized, loginTmpl, map[string]any{"Params": params, "Password": DemoPassword,
			"Client": p.cfg.ClientName, "Error": "Wrong user name or password."})
		return
	}
	id := randomToken()
	p.mu.Lock()
	p.sessions[id] = session{user: user, csrf: randomToken()}
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	p.log.Info("demoprovider: login", "user", user)
	http.Redirect(w, r, "/authorize?"+params.Encode(), http.StatusSeeOther)
}

// authorizeDecision takes the consent form: Deny redirects with
// access_denied, Allow lets the library issue the code.
func (p *provider) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if msg := p.checkRequest(r.PostForm); msg != "" {
		p.render(w, http.StatusBadRequest, errorTmpl, map[string]any{"Message": msg})
		return
	}
	s, ok := p.session(r)
	if !ok || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
		p.render(w, http.StatusForbidden, errorTmpl, map[string]any{"Message": "Your session has ended; start again from the application."})
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		p.log.Info("demoprovider: consent denied", "user", s.user, "client", p.cfg.ClientID)
		target, _ := url.Parse(r.PostForm.Get("redirect_uri"))
		tq := target.Query()
		tq.Set("error", "access_denied")
		tq.Set("error_description", "The user denied access.")
		if st := r.PostForm.Get("state"); st != "" {
			tq.Set("state", st)
		}
		target.RawQuery = tq.Encode()
		http.Redirect(w, r, target.String(), http.StatusFound)
		return
	}
	// Only the carried parameters reach the library.
	r.Form = carried(r.PostForm)
	p.log.Info("demoprovider: consent given", "user", s.user, "client", p.cfg.ClientID, "scope", r.Form.Get("scope"))
	if err := p.srv.HandleAuthorizeRequest(w, r); err != nil {
		p.render(w, http.StatusBadRequest, errorTmpl, map[string]any{"Message": "The authorization request is invalid."})
	}
}

// consentingUser is the library's UserAuthorizationHandler: the user of the
// session that posted the consent form.
func (p *provider) consentingUser(_ http.ResponseWriter, r *http.Request) (string, error) {
	s, ok := p.session(r)
	if !ok {
		return "", oerrors.ErrAccessDenied
	}
	return s.user, nil
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	if err := p.srv.HandleTokenRequest(w, r); err != nil {
		p.log.Error("demoprovider: token request failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// me is the protected resource (RFC 6750 §2.1; §3.1 for the 401).
func (p *provider) me(w http.ResponseWriter, r *http.Request) {
	ti, err := p.srv.ValidationBearerToken(r)
	if err != nil || ti == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="demoprovider", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token", "error_description": "The access token is missing, expired or revoked."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": ti.GetUserID(), "name": ti.GetUserID(), "client_id": ti.GetClientID(), "scope": ti.GetScope(),
		"expires_at": ti.GetAccessCreateAt().Add(ti.GetAccessExpiresIn()).UTC().Format(time.RFC3339),
	})
}

func (p *provider) home(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, homeTmpl, map[string]any{"Client": p.cfg.ClientName, "Password": DemoPassword})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *provider) render(w http.ResponseWriter, status int, t *template.Template, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.Execute(w, data); err != nil {
		p.log.Error("demoprovider: rendering a page", "err", err)
	}
}
