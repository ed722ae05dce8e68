package flow

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/trace"
)

// Result is how a callback ended, for the page or redirect that follows.
type Result struct {
	// Key is the connection the callback was for; empty when the state was
	// unknown.
	Key latchkey.ConnectionKey
	// Label is the OAuth config's label.
	Label    string
	ReturnTo string
	Popup    bool
	// Connection is the stored connection on success.
	Connection latchkey.Connection
	// Verification is the outcome of the config's verify_api, when it has
	// one.
	Verification *Verification
}

// ErrOtherBrowser is wrapped by the error of a callback that did not bring
// the browser nonce of its state: it came from another browser than the one
// that pressed Allow (RFC 6749 §10.12, RFC 9700 §4.7.1), as when someone
// forwards the provider's authorization URL of their own link to another
// person, whose provider account would otherwise land in their connection.
var ErrOtherBrowser = errors.New("flow: the callback came from another browser than the one that pressed Allow")

// Callback handles the provider's redirect back to Latchkey (RFC 6749
// §4.1.2): it takes the state once, checks that browserNonce (what the
// browser kept from Authorize) is the state's, reads the code with the
// config's auth-code path over the query parameters, exchanges it (§4.1.3),
// and stores the tokens as the user's settings in one write. On error the
// Result still says where the user came from when the state was valid, and
// nothing is stored; a state is used up by any callback that names it.
//
// A callback whose state is known is traced: the user's return, the
// exchange and the check, as the provider answered them.
func (e *Engine) Callback(ctx context.Context, query url.Values, browserNonce string) (res Result, err error) {
	state := query.Get("state")
	if state == "" {
		return Result{}, latchkey.Errorf(latchkey.EBADREQUEST, "the callback carries no state: start again from the app")
	}
	now := e.cfg.Now()
	st, err := e.cfg.Store.TakeState(ctx, state, now)
	if err == nil && st.Env != "" {
		// One callback URL serves every environment: the state says which.
		ctx = latchkey.WithEnvironment(ctx, st.Env)
	}
	if err != nil {
		switch latchkey.ErrorCode(err) {
		case latchkey.ENOTFOUND:
			return Result{}, latchkey.WrapError(latchkey.EBADREQUEST, err, "this sign-in was already completed or is unknown: start again from the app")
		case latchkey.EEXPIRED:
			return Result{}, latchkey.WrapError(latchkey.EEXPIRED, err, "this sign-in took too long and has expired: start again from the app")
		}
		return Result{}, err
	}
	res = Result{Key: st.ConnectionKey, ReturnTo: st.ReturnTo, Popup: st.Popup}
	ctx, rec := trace.Start(ctx, e.cfg.Traces, latchkey.TraceAuthorization, st.ConnectionKey, "")
	defer func() { rec.Finish(err) }()
	// The user's return from the provider, as the callback's URL, its code
	// and state masked by name.
	back := ""
	if query.Get("error") != "" {
		back = "the provider answered " + query.Get("error")
		if d := query.Get("error_description"); d != "" {
			back += ": " + d
		}
	}
	rec.Redirect("authorization: the user's return from the provider", http.MethodGet, e.callbackURL(ctx)+"?"+query.Encode(), back)
	c, err := e.App(ctx, st.App)
	if err != nil {
		return res, err
	}
	cc, err := c.config(st.Config)
	if err != nil {
		return res, err
	}
	res.Label = cc.cfg.DisplayLabel()
	if st.BrowserHash == "" || subtle.ConstantTimeCompare([]byte(nonceHash(browserNonce)), []byte(st.BrowserHash)) != 1 {
		e.cfg.Logger.WarnContext(ctx, "callback refused: another browser", "app", st.App, "org", st.Org, "user", st.User,
			"config", st.Config, "nonce_present", browserNonce != "")
		return res, &latchkey.Error{Code: latchkey.EFORBIDDEN, Err: ErrOtherBrowser,
			Message: "This sign-in was started in another browser, so nothing was connected. " +
				"If you started it, open the app's link again in this browser and sign in from there; " +
				"if someone sent you this sign-in, do not continue it."}
	}
	if query.Get("error") != "" {
		// RFC 6749 §4.1.2.1: the provider's own words.
		pe := &latchkey.ProviderError{Code: query.Get("error"), Description: query.Get("error_description"), URI: query.Get("error_uri")}
		return res, &latchkey.Error{Code: latchkey.EPROVIDER, Message: cc.cfg.DisplayLabel() + " did not grant access", Provider: pe}
	}
	doc := extract.QueryDocument(query)
	code, ok := cc.authCode.Lookup(ctx, doc)
	if !ok || code == "" {
		keys := make([]string, 0, len(query))
		for k := range query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return res, latchkey.Errorf(latchkey.EPROVIDER, "the callback holds no authorization code at %s (parameters present: %s)",
			cc.authCode.String(), strings.Join(keys, ", "))
	}
	// Values the callback carries are checked before the code is spent.
	meta := map[string]string{}
	for name, p := range cc.callbackMeta {
		if v, ok := p.Lookup(ctx, doc); ok {
			if err := extract.Storable("metadata "+name+" in the callback", p, v); err != nil {
				return res, err
			}
			meta[name] = v
		}
	}
	vals, err := e.values(ctx, c, cc, st.Org, st.User)
	if err != nil {
		return res, err
	}
	vals["auth_code"] = code
	vals["state"] = state
	if st.RedirectURI != "" {
		vals["redirect_uri"] = st.RedirectURI
	}
	extra := map[string]string{}
	if st.CodeVerifier != "" {
		vals["code_verifier"] = st.CodeVerifier
		extra["code_verifier"] = st.CodeVerifier // RFC 7636 §4.5
	}
	rec.Next("token exchange")
	tok, err := e.send(ctx, cc, tokenRequest{url: cc.tokenURL, urlField: "token_url", body: cc.body, field: "request_body", extra: extra, expect: true}, vals)
	if err != nil {
		return res, err
	}
	conn := e.newConnection(cc, st.ConnectionKey, tok, now)
	maps.Copy(conn.Values, meta)
	if cc.cfg.VerifyAPI != "" {
		// The check runs before the write, so that what it captures is
		// stored with the tokens in one write; a failed check is reported,
		// and the connection kept.
		v, values := e.verifyWith(ctx, c, cc, conn)
		maps.Copy(conn.Values, values)
		res.Verification = &v
		if !v.OK {
			e.cfg.Logger.WarnContext(ctx, "the new connection's check failed", "app", st.App, "org", st.Org, "user", st.User,
				"config", st.Config, "api", v.API, "status", v.Status, "error", v.Error)
		}
	}
	saved, err := e.cfg.Store.PutConnection(ctx, conn)
	if err != nil {
		return res, err
	}
	res.Connection = saved
	e.emit(ctx, latchkey.EventConnectionCreated, saved, nil)
	e.cfg.Logger.InfoContext(ctx, "connection created", "app", st.App, "org", st.Org, "user", st.User, "config", st.Config)
	return res, nil
}

// newConnection makes an active connection from an extracted token.
func (e *Engine) newConnection(cc *compiledConfig, key latchkey.ConnectionKey, tok extract.Token, now time.Time) latchkey.Connection {
	conn := latchkey.Connection{ConnectionKey: key, Status: latchkey.StatusActive, TokenType: tok.TokenType,
		Scope: tok.Scope, ExpiresAt: tok.ExpiresAt, RefreshedAt: now, Values: map[string]string{}}
	conn.Values[cc.cfg.AccessTokenVariableName] = tok.AccessToken
	if cc.cfg.RefreshTokenVariableName != "" && tok.RefreshToken != "" {
		conn.Values[cc.cfg.RefreshTokenVariableName] = tok.RefreshToken
	}
	for k, v := range tok.Metadata {
		conn.Values[k] = v
	}
	if cc.cfg.KeepAliveInterval > 0 && tok.RefreshToken != "" {
		conn.KeepAliveAt = now.Add(time.Duration(cc.cfg.KeepAliveInterval))
	}
	return conn
}
