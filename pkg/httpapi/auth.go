package httpapi

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/authserver"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

const keyContext = "latchkey.apikey"

// keyCacheTTL bounds how long a key read from the store is trusted before
// it is read again, so that a key revoked on another replica stops working
// within that time. A key revoked through this server stops at once.
const keyCacheTTL = 5 * time.Second

type keyCache struct {
	mu   sync.Mutex
	keys map[string]cachedKey
}

type cachedKey struct {
	key    latchkey.APIKey
	loaded time.Time
}

func newKeyCache() *keyCache { return &keyCache{keys: map[string]cachedKey{}} }

func (kc *keyCache) forget(id string) {
	kc.mu.Lock()
	delete(kc.keys, id)
	kc.mu.Unlock()
}

// authenticate checks the credential of every /api/v1 request: an API key,
// the builder UI's session cookie, or an access token of Latchkey's own
// OAuth server (oauthBearer).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		if h == "" { // the cookies are parsed only for a request without a key
			if cookie, cerr := c.Cookie(SessionCookie); cerr == nil && cookie.Value != "" {
				// The builder UI: a session cookie, with a CSRF token on changes.
				if err := s.authenticateSession(c, cookie); err != nil {
					return err
				}
				env, err := s.sessionEnvironment(c)
				if err != nil {
					return err
				}
				s.actIn(c, env)
				return next(c)
			}
		}
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
			return latchkey.Errorf(latchkey.EUNAUTHORIZED, "an API key is required: send Authorization: Bearer <key>")
		}
		token = strings.TrimSpace(token)
		if !visibleASCII(token) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
			return latchkey.Errorf(latchkey.EUNAUTHORIZED, "the API key is not valid")
		}
		if authserver.IsAccessToken(token) {
			// An access token of Latchkey's own OAuth server.
			if err := s.oauthBearer(c, token); err != nil {
				return err
			}
			return next(c)
		}
		key, err := s.lookupKey(c, token)
		if err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
			return err
		}
		c.Set(keyContext, key)
		if s.envKey.Hash != nil && key.ID == s.envKey.ID {
			// The operator's key (LATCHKEY_ADMIN_API_KEY), kept in no
			// environment, acts in the one the request names, as the
			// CLI does: latchkey apply --env prod.
			env, err := s.sessionEnvironment(c)
			if err != nil {
				return err
			}
			s.actIn(c, env)
			return next(c)
		}
		s.keyUses.note(key, s.now())
		env := key.Env
		if env == "" {
			env = latchkey.DefaultEnvironment
		}
		if h := c.Request().Header.Get(EnvironmentHeader); h != "" && latchkey.Environment(h) != env {
			return &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: fmt.Sprintf("this API key acts in environment %q only: use a key of %q", env, h),
				Fields: []latchkey.FieldError{{Field: EnvironmentHeader, Message: "names another environment than the API key's"}}}
		}
		s.actIn(c, env)
		return next(c)
	}
}

// EnvironmentHeader is the header in which the builder UI's requests (a
// session's) say which environment they act in; without it they act in
// latchkey.DefaultEnvironment. API keys act in their own environment only:
// a key's request naming another one here is refused. The operator's key
// (Config.EnvAdminKey, from LATCHKEY_ADMIN_API_KEY) acts, as sessions do,
// in the one named. Every answer of /api/v1 names its environment here. It is a custom
// header, so a cross-site page cannot send it, and a change needs the
// session's CSRF token besides (CSRFHeader).
const EnvironmentHeader = "X-Latchkey-Environment"

// sessionEnvironment returns the existing environment a session's request
// names in EnvironmentHeader.
func (s *Server) sessionEnvironment(c echo.Context) (latchkey.Environment, error) {
	h := c.Request().Header.Get(EnvironmentHeader)
	if h == "" {
		return latchkey.DefaultEnvironment, nil
	}
	env := latchkey.Environment(h)
	bad := &latchkey.Error{Code: latchkey.ENOTFOUND, Message: fmt.Sprintf("environment %q not found", h),
		Fields: []latchkey.FieldError{{Field: EnvironmentHeader, Message: "names no environment"}}}
	if !env.Valid() {
		return "", bad
	}
	if _, err := s.store.GetEnvironment(c.Request().Context(), env); errors.Is(err, store.ErrNotFound) {
		return "", bad
	} else if err != nil {
		return "", err
	}
	return env, nil
}

// actIn has the rest of the request act in env: the store reads and writes
// env's rows only. The answer says it in EnvironmentHeader.
func (s *Server) actIn(c echo.Context, env latchkey.Environment) {
	c.SetRequest(c.Request().WithContext(latchkey.WithEnvironment(c.Request().Context(), env)))
	c.Response().Header().Set(EnvironmentHeader, string(env))
}

// visibleASCII reports whether an API key has the form every key has: 1
// to 512 visible ASCII characters (RFC 6750 §2.1 allows fewer), so that no
// other byte reaches the store.
func visibleASCII(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// errInvalidKey is the answer to a key that is not one: the same for a
// malformed key, an unknown one, a wrong secret and a revoked key.
var errInvalidKey = latchkey.Errorf(latchkey.EUNAUTHORIZED, "the API key is not valid")

func (s *Server) lookupKey(c echo.Context, token string) (latchkey.APIKey, error) {
	invalid := errInvalidKey
	id, secret, ok := apikey.Parse(token)
	if !ok {
		return latchkey.APIKey{}, invalid
	}
	if s.envKey.Hash != nil && id == s.envKey.ID && apikey.Verify(s.envKey, secret) {
		return s.envKey, nil
	}
	now := time.Now()
	s.keys.mu.Lock()
	ck, hit := s.keys.keys[id]
	s.keys.mu.Unlock()
	if !hit || now.Sub(ck.loaded) > keyCacheTTL {
		key, err := s.store.GetAPIKey(c.Request().Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			return latchkey.APIKey{}, invalid
		}
		if err != nil {
			return latchkey.APIKey{}, err
		}
		ck = cachedKey{key: key, loaded: now}
		s.keys.mu.Lock()
		s.keys.keys[id] = ck
		s.keys.mu.Unlock()
	}
	if !apikey.Verify(ck.key, secret) || ck.key.RevokedAt != nil {
		return latchkey.APIKey{}, invalid
	}
	return ck.key, nil
}

func callerKey(c echo.Context) latchkey.APIKey {
	k, _ := c.Get(keyContext).(latchkey.APIKey)
	return k
}

// requireAdmin refuses callers whose key cannot manage apps.
func requireAdmin(c echo.Context) error {
	if k := callerKey(c); !k.IsAdmin() {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "this route needs an admin API key")
	}
	return nil
}

// requireApp refuses callers whose key cannot read app's runtime data.
func requireApp(c echo.Context, app string) error {
	if k := callerKey(c); !k.CanRead(app) {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "this API key is not allowed to read app %q", app)
	}
	return nil
}

// flush forgets every cached key (after an environment's keys are deleted).
func (kc *keyCache) flush() {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	clear(kc.keys)
}
