package flow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// LinkRequest asks for a link that lets a user connect through an OAuth config.
type LinkRequest struct {
	Key latchkey.ConnectionKey
	// ReturnTo is where the user's browser goes after the callback; it must
	// start with one of the app's allowed return URLs.
	ReturnTo string
	// Popup makes the result page post a message to its opener and close.
	Popup bool
}

// Link is a created link to the landing page.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Landing is what the landing page shows a user before they allow access.
type Landing struct {
	App         string
	AppLabel    string
	Label       string
	Description string
	LogoURL     string
	Scopes      []string
	ExpiresAt   time.Time
}

// CreateLink creates a short-lived, single-use link to the landing page for
// a user of an org. The org must have filled the app's required settings.
func (e *Engine) CreateLink(ctx context.Context, req LinkRequest) (Link, error) {
	if !latchkey.ValidID(req.Key.Org) || !latchkey.ValidID(req.Key.User) {
		return Link{}, latchkey.Errorf(latchkey.EINVALID, "org and user ids %s", latchkey.IDRule)
	}
	c, err := e.App(ctx, req.Key.App)
	if err != nil {
		return Link{}, err
	}
	cc, err := c.config(req.Key.Config)
	if err != nil {
		return Link{}, err
	}
	if cc.cfg.Grant() != latchkey.GrantAuthorizationCode {
		return Link{}, latchkey.Errorf(latchkey.EINVALID, "OAuth config %q uses the %s grant, which needs no user link", cc.cfg.Name, cc.cfg.Grant())
	}
	if req.ReturnTo != "" {
		ret, ok := returnAllowed(c.App.AllowedReturnURLs, req.ReturnTo)
		if !ok {
			return Link{}, &latchkey.Error{Code: latchkey.EINVALID, Message: "return_to is not allowed",
				Fields: []latchkey.FieldError{{Field: "return_to", Message: "must start with one of the app's allowed_return_urls " +
					"once its dot segments are resolved, with no backslash or encoded '/' in its path"}}}
		}
		req.ReturnTo = ret
	}
	if err := e.checkInstalled(ctx, c, cc, req.Key.Org); err != nil {
		return Link{}, err
	}
	token, err := randomToken()
	if err != nil {
		return Link{}, err
	}
	expires := e.cfg.Now().Add(e.cfg.LinkTTL).UTC()
	link := latchkey.Link{ConnectionKey: req.Key, ReturnTo: req.ReturnTo, Popup: req.Popup, ExpiresAt: expires}
	if err := e.cfg.Store.CreateLink(ctx, token, link); err != nil {
		return Link{}, err
	}
	connect := strings.TrimSuffix(e.cfg.ConnectURL, "/")
	if base := e.envURL(ctx); base != "" {
		connect = base + "/connect"
	}
	return Link{URL: connect + "/" + token, ExpiresAt: expires}, nil
}

// Landing returns what the landing page of a link shows, without using the
// link.
func (e *Engine) Landing(ctx context.Context, token string) (Landing, error) {
	link, err := e.cfg.Store.GetLink(ctx, token, e.cfg.Now())
	if err != nil {
		return Landing{}, linkError(err)
	}
	ctx = linkEnv(ctx, link)
	c, err := e.App(ctx, link.App)
	if err != nil {
		return Landing{}, err
	}
	cc, err := c.config(link.Config)
	if err != nil {
		return Landing{}, err
	}
	appLabel := c.App.Label
	if appLabel == "" {
		appLabel = c.App.Name
	}
	return Landing{App: c.App.Name, AppLabel: appLabel, Label: cc.cfg.DisplayLabel(), Description: cc.cfg.Description,
		LogoURL: cc.cfg.LogoURL, Scopes: cc.cfg.Scopes, ExpiresAt: link.ExpiresAt}, nil
}

// Authorization is where a used link sends the browser that pressed Allow,
// and what binds the flow to that browser.
type Authorization struct {
	// URL is the provider's authorization URL (RFC 6749 §4.1.1).
	URL string
	// State is the state parameter on URL.
	State string
	// BrowserNonce is a secret the browser must keep (in a cookie) and
	// bring back to the callback: the state stores only its hash, and a
	// callback without it is refused (RFC 6749 §10.12, RFC 9700 §4.7.1).
	BrowserNonce string
	// ExpiresAt is when the state expires, and with it the nonce.
	ExpiresAt time.Time
}

// Authorize uses a link: it creates the authorization state (bound to the
// link's app, org, user and config, and to the browser by the hash of a
// fresh nonce; RFC 6749 §10.12) and, when the config enables it, a PKCE
// verifier (RFC 7636 §4.1), and returns the provider's authorization URL to
// send the user's browser to, with the nonce that browser must keep.
func (e *Engine) Authorize(ctx context.Context, token string) (Authorization, error) {
	now := e.cfg.Now()
	link, err := e.cfg.Store.GetLink(ctx, token, now)
	if err != nil {
		return Authorization{}, linkError(err)
	}
	ctx = linkEnv(ctx, link)
	c, err := e.App(ctx, link.App)
	if err != nil {
		return Authorization{}, err
	}
	cc, err := c.config(link.Config)
	if err != nil {
		return Authorization{}, err
	}
	vals, err := e.values(ctx, c, cc, link.Org, link.User)
	if err != nil {
		return Authorization{}, err
	}
	state, err := randomToken()
	if err != nil {
		return Authorization{}, err
	}
	nonce, err := randomToken()
	if err != nil {
		return Authorization{}, err
	}
	vals["state"] = state
	var verifier string
	if cc.cfg.PKCEEnabled() {
		verifier = oauth2.GenerateVerifier()
		vals["code_challenge"] = oauth2.S256ChallengeFromVerifier(verifier)
	}
	authURL, err := e.authURL(cc, vals)
	if err != nil {
		return Authorization{}, err
	}
	// The link is used only once the URL could be built, so that a config
	// error does not burn the user's link.
	if _, err := e.cfg.Store.TakeLink(ctx, token, now); err != nil {
		return Authorization{}, linkError(err)
	}
	st := latchkey.AuthState{ConnectionKey: link.ConnectionKey, ReturnTo: link.ReturnTo, Popup: link.Popup,
		RedirectURI: vals["redirect_uri"], CodeVerifier: verifier, ExpiresAt: now.Add(e.cfg.StateTTL).UTC(),
		BrowserHash: nonceHash(nonce)}
	if err := e.cfg.Store.CreateState(ctx, state, st); err != nil {
		return Authorization{}, err
	}
	return Authorization{URL: authURL, State: state, BrowserNonce: nonce, ExpiresAt: st.ExpiresAt}, nil
}

// Cancelled is what the page after a Cancel on the landing page shows.
type Cancelled struct {
	Landing
	// Key is the connection the link was for.
	Key latchkey.ConnectionKey
	// Popup is set when the link was made for a popup.
	Popup bool
}

// Cancel uses a link up without sending the user anywhere: the user chose
// not to connect on the landing page, and a later Allow on the same link
// fails as for a used link.
func (e *Engine) Cancel(ctx context.Context, token string) (Cancelled, error) {
	l, err := e.Landing(ctx, token)
	if err != nil {
		return Cancelled{}, err
	}
	link, err := e.cfg.Store.TakeLink(ctx, token, e.cfg.Now())
	if err != nil {
		return Cancelled{}, linkError(err)
	}
	return Cancelled{Landing: l, Key: link.ConnectionKey, Popup: link.Popup}, nil
}

// CallbackURL returns Latchkey's own OAuth callback, where the browser
// brings the nonce of Authorize back.
func (e *Engine) CallbackURL() string { return e.cfg.CallbackURL }

// nonceHash is the hex SHA-256 of a browser nonce, as the state keeps it.
func nonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:])
}

// authURL renders the config's link URL and adds what the flow needs and the
// template left out: response_type, state, the PKCE challenge (RFC 7636
// §4.3), the scopes and the extra authorization parameters.
func (e *Engine) authURL(cc *compiledConfig, vals map[string]string) (string, error) {
	raw, err := cc.link.Render(vals)
	if err != nil {
		return "", renderError("link_url", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", latchkey.Errorf(latchkey.EINVALID, "the rendered link_url is not a URL")
	}
	q := u.Query()
	setDefault := func(k, v string) {
		if v != "" && q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	// As golang.org/x/oauth2's AuthCodeURL: the client and the redirect URI
	// go on the link unless the template names them (RFC 6749 §4.1.1).
	setDefault("response_type", "code")
	id, ok, err := credential(cc.clientID, "client_id", vals)
	if err != nil {
		return "", err
	}
	if ok {
		setDefault("client_id", id)
	}
	setDefault("redirect_uri", vals["redirect_uri"])
	q.Set("state", vals["state"])
	if vals["code_challenge"] != "" {
		q.Set("code_challenge", vals["code_challenge"])
		q.Set("code_challenge_method", "S256")
	}
	setDefault("scope", vals["scope"])
	for _, k := range sortedKeys(cc.authParams) {
		v, err := cc.authParams[k].Render(vals)
		if err != nil {
			return "", renderError("auth_params."+k, err)
		}
		q.Set(k, v)
	}
	encoded := q.Encode()
	if cc.cfg.ScopeSeparator == "+" {
		// A '+' separator must reach the provider as a literal '+', which
		// query encoding would turn into %2B.
		encoded = strings.ReplaceAll(encoded, "%2B", "+")
	}
	u.RawQuery = encoded
	return u.String(), nil
}

// returnAllowed reports whether returnTo lies within one of the allowed
// return URLs (same scheme and host, the path at or below the allowed
// path), and returns it with its dot segments resolved, which is where a
// browser goes and so what the callback redirects to. Dot segments are
// resolved as browsers do (RFC 3986 §5.2.4, with "%2e" for "."; WHATWG URL),
// before the comparison, so that /ok/../../ui/ and /ok/%2e%2e/%2e%2e/ui/ do
// not leave /ok; a backslash, which browsers read as '/', or an encoded '/'
// or '\' in the path, which a server may decode into one, is refused.
func returnAllowed(allowed []string, returnTo string) (string, bool) {
	if strings.Contains(returnTo, `\`) {
		return "", false
	}
	u, err := url.Parse(returnTo)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	path, ok := resolveDotSegments(u.EscapedPath())
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		au, err := url.Parse(a)
		if err != nil {
			continue // allowed_return_urls are checked when the document is saved
		}
		base, ok := resolveDotSegments(au.EscapedPath())
		if ok && strings.EqualFold(au.Scheme, u.Scheme) && strings.EqualFold(au.Host, u.Host) && pathWithin(path, base) {
			out := u.Scheme + "://" + u.Host + path
			if u.RawQuery != "" || u.ForceQuery {
				out += "?" + u.RawQuery
			}
			if u.Fragment != "" {
				out += "#" + u.EscapedFragment()
			}
			return out, true
		}
	}
	return "", false
}

// resolveDotSegments removes the "." and ".." segments of an escaped path
// (RFC 3986 §5.2.4), taking "%2e" for "." in either case as browsers do. It
// refuses a path holding an encoded '/' or '\'.
func resolveDotSegments(path string) (string, bool) {
	lower := strings.ToLower(path)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "", false
	}
	if path == "" {
		return "", true
	}
	segs := strings.Split(path, "/")[1:] // an escaped absolute path starts with '/'
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch strings.ReplaceAll(strings.ToLower(seg), "%2e", ".") {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
			continue
		}
		if last {
			out = append(out, "") // "/a/.." is "/", a directory
		}
	}
	return "/" + strings.Join(out, "/"), true
}

// pathWithin reports whether path is base or lies below it, segment by
// segment: /integrations admits /integrations/done, not /integrations-evil.
func pathWithin(path, base string) bool {
	if base == "" || base == "/" || path == base {
		return true
	}
	return strings.HasPrefix(path, strings.TrimSuffix(base, "/")+"/")
}

func linkError(err error) error {
	switch latchkey.ErrorCode(err) {
	case latchkey.ENOTFOUND:
		return latchkey.WrapError(latchkey.ENOTFOUND, err, "this link is unknown or was already used; ask the app for a new one")
	case latchkey.EEXPIRED:
		return latchkey.WrapError(latchkey.EEXPIRED, err, "this link has expired; ask the app for a new one")
	}
	return err
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// linkEnv returns ctx in the environment of link: the landing pages' URLs
// carry only the link's token, which says its environment.
func linkEnv(ctx context.Context, link latchkey.Link) context.Context {
	if link.Env == "" {
		return ctx
	}
	return latchkey.WithEnvironment(ctx, link.Env)
}
