package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/template"
	"github.com/latchkey/latchkey/pkg/trace"
)

// tokenRequest is one call to a token, refresh or revocation endpoint.
type tokenRequest struct {
	url      *template.Template
	urlField string // the config field of the URL, for errors
	body     *template.Template
	field    string            // the config field of the body, for errors
	extra    map[string]string // parameters added to the rendered body when absent
	expect   bool              // parse the answer as a token response
	// rules read the answer; nil means the config's.
	rules *extract.Rules
	// method, encoding and auth replace POST and the config's
	// request_encoding and client_auth when set (a revocation's).
	method, encoding, auth string
}

// send renders and sends a request to a provider's endpoint with the
// config's encoding, client authentication and headers, and extracts a token
// from the answer (RFC 6749 §5.1), or the provider's error (§5.2).
func (e *Engine) send(ctx context.Context, cc *compiledConfig, tr tokenRequest, vals map[string]string) (extract.Token, error) {
	rec := trace.From(ctx)
	cc.maskIn(rec, vals)
	req, err := e.buildRequest(ctx, cc, tr, vals)
	if err != nil {
		return extract.Token{}, err
	}
	start := time.Now()
	resp, err := e.cfg.HTTPClient.Do(req)
	e.observeRequest(ctx, cc, resp, time.Since(start))
	if err != nil {
		return extract.Token{}, transportError(req, err)
	}
	defer resp.Body.Close()
	body, err := extract.ReadBody(resp.Body)
	if err != nil {
		return extract.Token{}, &latchkey.Error{Code: latchkey.EPROVIDER, Err: err,
			Message:  "the provider's answer could not be read: " + err.Error(),
			Provider: &latchkey.ProviderError{Status: resp.StatusCode}}
	}
	if !tr.expect {
		if resp.StatusCode >= 300 {
			doc, perr := extract.ParseResponse(resp.Header.Get("Content-Type"), body)
			if perr != nil {
				return extract.Token{}, &latchkey.Error{Code: latchkey.EPROVIDER, Err: perr,
					Message:  fmt.Sprintf("the provider refused the request with HTTP %d: %s", resp.StatusCode, perr.Error()),
					Provider: &latchkey.ProviderError{Status: resp.StatusCode}}
			}
			_, perr = cc.rules.Extract(ctx, resp.StatusCode, doc, e.cfg.Now())
			if perr == nil {
				perr = &latchkey.Error{Code: latchkey.EPROVIDER, Message: "the provider refused the request",
					Provider: &latchkey.ProviderError{Status: resp.StatusCode}}
			}
			return extract.Token{}, perr
		}
		return extract.Token{}, nil
	}
	doc, err := extract.ParseResponse(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return extract.Token{}, withRetryAfter(&latchkey.Error{Code: latchkey.EPROVIDER, Err: err,
			Message:  "the provider's answer is not a token response: " + err.Error(),
			Provider: &latchkey.ProviderError{Status: resp.StatusCode}}, resp.Header.Get("Retry-After"), e.cfg.Now())
	}
	rules := &cc.rules
	if tr.rules != nil {
		rules = tr.rules
	}
	tok, err := rules.Extract(ctx, resp.StatusCode, doc, e.cfg.Now())
	rec.Secret(tok.AccessToken, tok.RefreshToken, tok.IDToken)
	return tok, withRetryAfter(err, resp.Header.Get("Retry-After"), e.cfg.Now())
}

// maskIn tells a trace's recorder the secret values among vals.
func (cc *compiledConfig) maskIn(rec *trace.Recorder, vals map[string]string) {
	if rec == nil {
		return
	}
	for _, name := range cc.secrets {
		if v := vals[name]; v != "" {
			rec.Secret(v)
		}
	}
}

// withRetryAfter records on a provider error how long the provider asked
// to wait (RFC 9110 §10.2.3: seconds or an HTTP date).
func withRetryAfter(err error, header string, now time.Time) error {
	var le *latchkey.Error
	if header == "" || !errors.As(err, &le) || le.Provider == nil {
		return err
	}
	if secs, perr := strconv.Atoi(strings.TrimSpace(header)); perr == nil && secs >= 0 {
		le.Provider.RetryAfter = time.Duration(secs) * time.Second
	} else if at, perr := http.ParseTime(header); perr == nil && at.After(now) {
		le.Provider.RetryAfter = at.Sub(now)
	}
	return err
}

func (e *Engine) buildRequest(ctx context.Context, cc *compiledConfig, tr tokenRequest, vals map[string]string) (*http.Request, error) {
	rawURL, err := tr.url.Render(vals)
	if err != nil {
		return nil, renderError(tr.urlField, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "the rendered %s is not a URL", tr.urlField)
	}
	params, err := tr.body.RenderParams(vals)
	if err != nil {
		return nil, renderError(tr.field, err)
	}
	auth, encoding, method := cc.cfg.Auth(), cc.cfg.Encoding(), http.MethodPost
	if tr.auth != "" {
		auth = tr.auth
	}
	if tr.encoding != "" {
		encoding = tr.encoding
	}
	if tr.method != "" {
		method = strings.ToUpper(tr.method)
	}
	if auth != latchkey.ClientAuthBasic {
		// Client authentication is the engine's job (RFC 6749 §2.3.1): with
		// credentials in the body, those the template leaves out are added,
		// as golang.org/x/oauth2 does with AuthStyleInParams. A public
		// client without a secret simply sends none.
		extra := map[string]string{}
		for k, v := range tr.extra {
			extra[k] = v
		}
		id, ok, err := credential(cc.clientID, "client_id", vals)
		if err != nil {
			return nil, err
		}
		if ok {
			extra["client_id"] = id
		}
		if auth == latchkey.ClientAuthBody {
			secret, ok, err := credential(cc.clientSecret, "client_secret", vals)
			if err != nil {
				return nil, err
			}
			if ok {
				extra["client_secret"] = secret
			}
		}
		tr.extra = extra
	}
	for _, k := range sortedKeys(tr.extra) {
		if tr.extra[k] != "" && !hasParam(params, k) {
			params = append(params, template.Param{Key: k, Value: tr.extra[k]})
		}
	}
	var body string
	header := http.Header{}
	switch encoding {
	case latchkey.EncodingJSON:
		raw, err := tr.body.Render(vals)
		if err != nil {
			return nil, renderError(tr.field, err)
		}
		obj := map[string]any{}
		if err := json.Unmarshal([]byte(raw), &obj); err != nil {
			return nil, latchkey.Errorf(latchkey.EINVALID, "the rendered %s is not a JSON object", tr.field)
		}
		for _, k := range sortedKeys(tr.extra) {
			if _, ok := obj[k]; !ok && tr.extra[k] != "" {
				if !utf8.ValidString(tr.extra[k]) {
					// JSON cannot carry it (RFC 8259 §8.1); encoding would
					// replace it unseen.
					return nil, &latchkey.Error{Code: latchkey.EINVALID,
						Message: "the value of " + k + " is not valid UTF-8, which a JSON body cannot carry",
						Fields:  []latchkey.FieldError{{Field: k, Message: "is not valid UTF-8"}}}
				}
				obj[k] = tr.extra[k]
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, latchkey.WrapError(latchkey.EINVALID, err, "cannot encode the %s as JSON", tr.field)
		}
		body = string(b)
		header.Set("Content-Type", "application/json")
	case latchkey.EncodingQuery:
		q := u.Query()
		for _, p := range params {
			q.Set(p.Key, p.Value)
		}
		u.RawQuery = q.Encode()
	default:
		form := url.Values{}
		for _, p := range params {
			form.Add(p.Key, p.Value)
		}
		body = form.Encode()
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, latchkey.WrapError(latchkey.EINVALID, err, "cannot build the request to %s", tr.urlField)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	for _, k := range sortedKeys(cc.tokenHeaders) {
		v, err := cc.tokenHeaders[k].Render(vals)
		if err != nil {
			return nil, renderError("token_headers."+k, err)
		}
		req.Header.Set(k, v)
	}
	if auth == latchkey.ClientAuthBasic {
		id, err := cc.clientID.Render(vals)
		if err != nil {
			return nil, renderError("client_id", err)
		}
		secret, err := cc.clientSecret.Render(vals)
		if err != nil {
			return nil, renderError("client_secret", err)
		}
		// RFC 6749 §2.3.1: the id and secret are form-encoded before they
		// are joined, as golang.org/x/oauth2 does.
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return req, nil
}

// credential renders a client credential of the config as a value that
// the request encodes for where it goes. A value its template refers to
// that is absent means no credential (ok false): a public client sends none.
// Any other failure is an error that names the credential, never skipped.
func credential(t *template.Template, field string, vals map[string]string) (v string, ok bool, err error) {
	v, err = t.Render(vals)
	var mv *template.MissingValueError
	switch {
	case errors.As(err, &mv):
		return "", false, nil
	case err != nil:
		return "", false, renderError(field, err)
	}
	return v, true, nil
}

func hasParam(params []template.Param, key string) bool {
	for _, p := range params {
		if p.Key == key {
			return true
		}
	}
	return false
}

// renderError turns a template failure into a safe EINVALID error naming the
// config field and, for a missing value, the setting to fill in.
func renderError(field string, err error) error {
	var mv *template.MissingValueError
	if errors.As(err, &mv) {
		return &latchkey.Error{Code: latchkey.EINVALID, Err: err,
			Message: "the setting " + mv.Name + " has no value; the org or the config must fill it in",
			Fields:  []latchkey.FieldError{{Field: mv.Name, Message: "has no value (used by " + field + ")"}}}
	}
	return &latchkey.Error{Code: latchkey.EINVALID, Err: err, Message: "cannot render " + field + ": " + err.Error()}
}

// transportError reports a failed request without its URL, which may carry
// parameters (Slingr puts the code in the query string).
func transportError(req *http.Request, err error) error {
	msg := "the provider at " + req.URL.Host + " could not be reached"
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			msg = "the provider at " + req.URL.Host + " did not answer in time"
		}
		err = ue.Err
	}
	return &latchkey.Error{Code: latchkey.EPROVIDER, Message: msg, Err: err}
}
