package providertest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	prefix := ""
	switch {
	case p.opts.Style == Slingr:
		prefix = "/{tenant}/runtime"
	case p.opts.Subdomain:
		prefix = "/t/{tenant}"
	}
	mux.HandleFunc("GET "+prefix+p.spec.authorize, p.handleAuthorize)
	mux.HandleFunc("POST "+prefix+p.spec.token, p.handleToken)
	switch p.opts.Style {
	case Generic, Slack:
		mux.HandleFunc("POST "+prefix+p.spec.revoke, p.handleRevoke)
	case GitHub:
		mux.HandleFunc("DELETE /applications/{client}/token", p.handleRevoke)
	}
	api := "/api/me"
	if p.opts.Subdomain {
		api = prefix + api
	}
	mux.HandleFunc("GET "+api, p.handleAPI)
	if p.opts.Subdomain {
		p.apiRoutes(mux, prefix)
	} else {
		p.apiRoutes(mux, "")
	}
	return mux
}

// handleAuthorize plays the user who consents at once (RFC 6749 §4.1.1 and
// §4.1.2). Errors about the client or the redirect URI are shown to the user
// and not redirected (§4.1.2.1); the others are redirected.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	rec := p.capture(r, EndpointAuthorize)
	p.keep(rec)
	if p.injectFailure(w, r, EndpointAuthorize, nil) {
		return
	}
	q := r.URL.Query()
	if q.Get("client_id") != p.opts.ClientID {
		authorizePage(w, "Unknown client_id.")
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && p.spec.redirectOptional && len(p.opts.RedirectURIs) > 0 {
		redirect = p.opts.RedirectURIs[0]
	}
	if redirect == "" {
		authorizePage(w, "redirect_uri is required.")
		return
	}
	if len(p.opts.RedirectURIs) > 0 && !slices.Contains(p.opts.RedirectURIs, redirect) {
		authorizePage(w, "redirect_uri is not a registered callback URL.")
		return
	}
	target, err := url.Parse(redirect)
	if err != nil || !target.IsAbs() || target.Fragment != "" {
		authorizePage(w, "redirect_uri must be an absolute URL without a fragment.")
		return
	}
	state := q.Get("state")
	answer := func(v url.Values) {
		if state != "" {
			v.Set("state", state)
		}
		tq := target.Query()
		for k, vs := range v {
			tq[k] = vs
		}
		u := *target
		u.RawQuery = tq.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) {
		v := url.Values{"error": {code}}
		if desc != "" && p.opts.Style != Slack {
			v.Set("error_description", desc)
		}
		answer(v)
	}
	if p.spec.responseType {
		switch rt := q.Get("response_type"); rt {
		case "code":
		case "":
			fail("invalid_request", "response_type is required.")
			return
		default:
			fail("unsupported_response_type", "Only response_type=code is supported.")
			return
		}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain" // RFC 7636 §4.3
	}
	if challenge != "" && method != "S256" && method != "plain" {
		fail("invalid_request", "transform algorithm not supported")
		return
	}
	if challenge == "" && p.opts.RequirePKCE {
		fail("invalid_request", "code challenge required")
		return
	}
	p.mu.Lock()
	if p.denyNext > 0 {
		p.denyNext--
		p.mu.Unlock()
		fail("access_denied", p.spec.denyDescription)
		return
	}
	code := randomHex(16)
	p.codes[code] = &codeRecord{
		grant:       grant{user: p.user, client: p.opts.ClientID, tenant: p.tenantOf(r), scope: q.Get("scope")},
		userScope:   q.Get("user_scope"),
		redirectURI: q.Get("redirect_uri"),
		challenge:   challenge,
		method:      method,
		expires:     p.opts.Now().Add(p.codeTTL()),
	}
	p.mu.Unlock()
	answer(url.Values{"code": {code}})
}

func authorizePage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html><title>Authorization error</title><h1>Authorization error</h1><p>%s</p>", html.EscapeString(msg))
}

// handleToken serves the token endpoint: code exchange (RFC 6749 §4.1.3),
// refresh (§6) and, for Generic, client credentials (§4.4).
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	rec := p.capture(r, EndpointToken)
	if p.param(rec, "grant_type") == "refresh_token" {
		rec.Endpoint = EndpointRefresh
	}
	p.keep(rec)
	if p.injectFailure(w, r, rec.Endpoint, func(w http.ResponseWriter) { p.serveToken(w, r, rec) }) {
		return
	}
	p.serveToken(w, r, rec)
}

// client is the client authentication a token request carried.
type client struct {
	id, secret      string
	basic, inParams bool
}

func (p *Provider) clientOf(r *http.Request, rec Request) client {
	var c client
	if id, secret, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		if u, err := url.QueryUnescape(id); err == nil {
			id = u
		}
		if u, err := url.QueryUnescape(secret); err == nil {
			secret = u
		}
		c = client{id: id, secret: secret, basic: true}
	}
	if id := p.param(rec, "client_id"); id != "" {
		c.inParams = true
		if !c.basic || p.opts.Style == Slice {
			c.id, c.secret = id, p.param(rec, "client_secret")
		}
	}
	if p.opts.Style == Slice && !c.inParams {
		// Slice reads the credentials from the form body only.
		return client{basic: c.basic}
	}
	return c
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request, rec Request) {
	grantType := p.param(rec, "grant_type")
	if grantType == "" && (p.opts.Style == Slack || p.opts.Style == GitHub) {
		// oauth.v2.access and GitHub's access_token default to a code
		// exchange.
		grantType = "authorization_code"
	}
	c := p.clientOf(r, rec)
	if p.opts.Style == Generic && c.basic && c.inParams {
		p.tokenError(w, r, eInvalidRequest, "The client used more than one authentication method (RFC 6749 §2.3.1).")
		return
	}
	if c.id == "" || c.id != p.opts.ClientID {
		p.tokenError(w, r, eInvalidClient, "")
		return
	}
	// Slingr has no client secret; Slack lets a PKCE client leave it out.
	secretOptional := p.opts.Style == Slingr || (p.opts.Style == Slack && c.secret == "")
	if !secretOptional && subtle.ConstantTimeCompare([]byte(c.secret), []byte(p.opts.ClientSecret)) != 1 {
		p.tokenError(w, r, eBadSecret, "")
		return
	}
	switch grantType {
	case "authorization_code":
		p.exchange(w, r, rec, c)
	case "refresh_token":
		p.refreshGrant(w, r, rec)
	case "client_credentials":
		if p.opts.Style != Generic {
			p.tokenError(w, r, eGrantType, "")
			return
		}
		p.clientCredentials(w, r, rec)
	case "":
		p.tokenError(w, r, eInvalidRequest, "grant_type is required.")
	default:
		p.tokenError(w, r, eGrantType, "")
	}
}

func verifyPKCE(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// issued is what one token request produced, to be written in the style's
// format.
type issued struct {
	access, refresh string
	ttl             time.Duration
	refreshTTL      time.Duration
	grant           grant
	user            *issued // Slack: the authed_user part
}

// issueLocked creates an access token and, when withRefresh, a refresh token
// for g. p.mu is held.
func (p *Provider) issueLocked(g grant, withRefresh bool) issued {
	now := p.opts.Now()
	out := issued{access: p.newAccessToken(g.kind), ttl: p.accessTTL(), grant: g}
	a := &accessRecord{grant: g}
	if out.ttl > 0 {
		a.expires = now.Add(out.ttl)
	}
	p.access[out.access] = a
	if withRefresh {
		out.refresh = p.newRefreshToken()
		out.refreshTTL = p.refreshTTL()
		rr := &refreshRecord{grant: g, access: out.access}
		if out.refreshTTL > 0 {
			rr.expires = now.Add(out.refreshTTL)
		}
		p.refresh[out.refresh] = rr
	}
	return out
}

func (p *Provider) exchange(w http.ResponseWriter, r *http.Request, rec Request, c client) {
	code := p.param(rec, "code")
	if code == "" {
		p.tokenError(w, r, eInvalidRequest, "code is required.")
		return
	}
	p.mu.Lock()
	cr := p.codes[code]
	if cr == nil || cr.client != c.id || cr.tenant != p.tenantOf(r) {
		p.mu.Unlock()
		p.tokenError(w, r, eInvalidCode, "")
		return
	}
	if cr.used {
		// RFC 6749 §4.1.2: a code used twice revokes what it gave.
		for _, t := range cr.issued {
			delete(p.access, t)
			delete(p.refresh, t)
		}
		p.mu.Unlock()
		p.tokenError(w, r, eInvalidCode, "")
		return
	}
	if expired(cr.expires, p.opts.Now()) {
		p.mu.Unlock()
		p.tokenError(w, r, eCodeExpired, "")
		return
	}
	redirect := p.param(rec, "redirect_uri")
	switch p.opts.Style {
	case Generic, Slice:
		// RFC 6749 §4.1.3: required and identical when the authorize
		// request had one.
		if redirect != cr.redirectURI {
			p.mu.Unlock()
			p.tokenError(w, r, eRedirectMismatch, "")
			return
		}
	case Slack, GitHub:
		if redirect != "" && redirect != cr.redirectURI {
			p.mu.Unlock()
			p.tokenError(w, r, eRedirectMismatch, "")
			return
		}
	}
	if cr.challenge != "" && !verifyPKCE(cr.challenge, cr.method, p.param(rec, "code_verifier")) {
		p.mu.Unlock()
		p.tokenError(w, r, eBadVerifier, "")
		return
	}
	if p.opts.Style == Slack && c.secret == "" && cr.challenge == "" {
		p.mu.Unlock()
		p.tokenError(w, r, eBadSecret, "")
		return
	}
	cr.used = true
	var out issued
	if p.opts.Style == Slack {
		if cr.scope != "" {
			g := cr.grant
			g.kind = "bot"
			out = p.issueLocked(g, p.issuesRefresh())
		}
		if cr.userScope != "" {
			g := cr.grant
			g.kind, g.scope = "user", cr.userScope
			u := p.issueLocked(g, p.issuesRefresh())
			out.user = &u
			cr.issued = append(cr.issued, u.access, u.refresh)
		}
		out.grant.user = cr.user
	} else {
		out = p.issueLocked(cr.grant, p.issuesRefresh())
	}
	cr.issued = append(cr.issued, out.access, out.refresh)
	p.mu.Unlock()
	p.writeTokens(w, r, out, false)
}

func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request, rec Request) {
	name := "refresh_token"
	if p.opts.Style == Slingr {
		name = "code" // seed 000: the refresh token travels as code
	}
	rt := p.param(rec, name)
	if rt == "" {
		p.tokenError(w, r, eInvalidRefresh, "")
		return
	}
	now := p.opts.Now()
	p.mu.Lock()
	old := p.refresh[rt]
	if old == nil || old.client != p.opts.ClientID || old.tenant != p.tenantOf(r) {
		p.mu.Unlock()
		p.tokenError(w, r, eInvalidRefresh, "")
		return
	}
	if expired(old.expires, now) {
		delete(p.refresh, rt)
		p.mu.Unlock()
		p.tokenError(w, r, eRefreshExpired, "")
		return
	}
	if !old.usableAt(now, p.opts.RefreshGrace) {
		// Rotated away, and its grace (RefreshGrace) is over.
		delete(p.refresh, rt)
		p.mu.Unlock()
		p.tokenError(w, r, eInvalidRefresh, "")
		return
	}
	if p.opts.Style == Slingr && !p.opts.AllowEarlyRefresh {
		if a := p.access[old.access]; a != nil && !expired(a.expires, now) {
			p.mu.Unlock()
			p.tokenError(w, r, eNotYetExpired, "")
			return
		}
	}
	var out issued
	switch {
	case p.rotates():
		switch {
		case p.opts.RefreshGrace <= 0:
			delete(p.refresh, rt)
		case old.rotated.IsZero():
			old.rotated = now // usable for RefreshGrace more
		}
		out = p.issueLocked(old.grant, true)
	case p.opts.Style == Slingr:
		// A new refresh token each time (seed 000's example); the old one
		// stays valid unless RotateRefreshTokens.
		out = p.issueLocked(old.grant, true)
	default:
		// RFC 6749 §6: the refresh token stays; the answer leaves it out.
		out = p.issueLocked(old.grant, false)
		old.access = out.access
	}
	p.mu.Unlock()
	p.writeTokens(w, r, out, true)
}

func (p *Provider) clientCredentials(w http.ResponseWriter, r *http.Request, rec Request) {
	p.mu.Lock()
	out := p.issueLocked(grant{client: p.opts.ClientID, tenant: p.tenantOf(r), scope: p.param(rec, "scope")}, false)
	p.mu.Unlock()
	p.writeTokens(w, r, out, false)
}

// expiresIn renders a lifetime as the options ask: a number, a string, or
// nothing (nil).
func (p *Provider) expiresIn(d time.Duration) any {
	if d <= 0 || p.opts.NoExpiresIn {
		return nil
	}
	s := int64(d / time.Second)
	if p.opts.ExpiresInAsString {
		return fmt.Sprint(s)
	}
	return s
}

func setIf(m map[string]any, k string, v any) {
	switch v := v.(type) {
	case nil:
		return
	case string:
		if v == "" {
			return
		}
	}
	m[k] = v
}

// writeTokens writes a successful token answer (RFC 6749 §5.1) in the
// style's format.
func (p *Provider) writeTokens(w http.ResponseWriter, r *http.Request, out issued, refresh bool) {
	switch p.opts.Style {
	case Slack:
		m := map[string]any{"ok": true, "app_id": "A0TESTAPP", "team": map[string]any{"id": "T1", "name": "Test Team"}}
		if out.access != "" {
			m["access_token"] = out.access
			m["token_type"] = out.grant.kind
			m["scope"] = out.grant.scope
			if out.grant.kind == "bot" {
				m["bot_user_id"] = "U0BOT"
			}
			setIf(m, "expires_in", p.expiresIn(out.ttl))
			setIf(m, "refresh_token", out.refresh)
		}
		if !refresh {
			m["enterprise"] = nil
			m["is_enterprise_install"] = false
			au := map[string]any{"id": out.grant.user}
			if u := out.user; u != nil {
				au["id"] = u.grant.user
				au["scope"] = u.grant.scope
				au["access_token"] = u.access
				au["token_type"] = "user"
				setIf(au, "expires_in", p.expiresIn(u.ttl))
				setIf(au, "refresh_token", u.refresh)
			}
			m["authed_user"] = au
		}
		writeJSON(w, http.StatusOK, m)
	case GitHub:
		m := map[string]any{"access_token": out.access, "token_type": "bearer",
			// GitHub answers with the scopes comma-separated.
			"scope": strings.Join(strings.Fields(strings.ReplaceAll(out.grant.scope, ",", " ")), ",")}
		setIf(m, "expires_in", p.expiresIn(out.ttl))
		setIf(m, "refresh_token", out.refresh)
		if out.refresh != "" {
			setIf(m, "refresh_token_expires_in", p.expiresIn(out.refreshTTL))
		}
		p.writeGitHub(w, r, m)
	case Slice:
		m := map[string]any{"access_token": out.access, "token_type": "bearer"}
		setIf(m, "expires_in", p.expiresIn(out.ttl))
		setIf(m, "refresh_token", out.refresh)
		writeJSON(w, http.StatusOK, m)
	case Slingr:
		scope := out.grant.scope
		if scope == "" {
			scope = "scope1 scope2 scope3" // the OAuth App's scopes (seed 000)
		}
		m := map[string]any{"access_token": out.access, "token_type": "bearer", "scope": scope}
		setIf(m, "expires_in", p.expiresIn(out.ttl))
		setIf(m, "refresh_token", out.refresh)
		writeJSON(w, http.StatusOK, m)
	default:
		m := map[string]any{"access_token": out.access, "token_type": "Bearer"}
		setIf(m, "expires_in", p.expiresIn(out.ttl))
		setIf(m, "refresh_token", out.refresh)
		setIf(m, "scope", out.grant.scope)
		writeJSON(w, http.StatusOK, m)
	}
}

// handleRevoke revokes a token: RFC 7009 for Generic, auth.revoke for
// Slack, DELETE /applications/{client_id}/token for GitHub.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	rec := p.capture(r, EndpointRevoke)
	p.keep(rec)
	if p.injectFailure(w, r, EndpointRevoke, func(w http.ResponseWriter) { p.serveRevoke(w, r, rec) }) {
		return
	}
	p.serveRevoke(w, r, rec)
}

func (p *Provider) revokeLocked(token string) bool {
	if rr, ok := p.refresh[token]; ok {
		delete(p.refresh, token)
		delete(p.access, rr.access) // RFC 7009 §2.1: the access tokens of the grant go too
		return true
	}
	if _, ok := p.access[token]; ok {
		delete(p.access, token)
		return true
	}
	return false
}

func (p *Provider) serveRevoke(w http.ResponseWriter, r *http.Request, rec Request) {
	switch p.opts.Style {
	case Slack:
		token, ok := hasBearer(r)
		if !ok {
			token = p.param(rec, "token")
		}
		p.mu.Lock()
		done := token != "" && p.revokeLocked(token)
		p.mu.Unlock()
		if !done {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "revoked": true})
	case GitHub:
		id, secret, ok := r.BasicAuth()
		if !ok || id != p.opts.ClientID || secret != p.opts.ClientSecret || r.PathValue("client") != id {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
			return
		}
		token, _ := rec.JSON["access_token"].(string)
		p.mu.Lock()
		done := token != "" && p.revokeLocked(token)
		p.mu.Unlock()
		if !done {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		c := p.clientOf(r, rec)
		if c.id != p.opts.ClientID || c.secret != p.opts.ClientSecret {
			p.tokenError(w, r, eInvalidClient, "")
			return
		}
		token := p.param(rec, "token")
		if token == "" {
			p.tokenError(w, r, eInvalidRequest, "token is required.")
			return
		}
		p.mu.Lock()
		p.revokeLocked(token) // RFC 7009 §2.2: an unknown token is no error
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}
}

// handleAPI is the protected resource: 200 with the user for a live Bearer
// token (RFC 6750 §2.1), 401 with an invalid_token challenge otherwise
// (RFC 6750 §3.1).
func (p *Provider) handleAPI(w http.ResponseWriter, r *http.Request) {
	rec := p.capture(r, EndpointAPI)
	p.keep(rec)
	if p.injectFailure(w, r, EndpointAPI, nil) {
		return
	}
	token, ok := hasBearer(r)
	p.mu.Lock()
	a := p.access[token]
	valid := ok && a != nil && !expired(a.expires, p.opts.Now()) && a.tenant == p.tenantOf(r)
	var g grant
	if valid {
		g = a.grant
	}
	p.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": g.user, "name": "Test User " + g.user,
		"client_id": g.client, "scope": g.scope, "tenant": g.tenant})
}
