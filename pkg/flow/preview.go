package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// PublicURL returns the address users reach Latchkey at: the ConnectURL
// without its last path segment ("https://auth.example.com/connect" gives
// "https://auth.example.com"). Pages outside a flow, such as the install
// prompt, build their links on it.
func (e *Engine) PublicURL() string {
	u := strings.TrimSuffix(e.cfg.ConnectURL, "/")
	if i := strings.LastIndex(u, "/"); i > len("https://") {
		return u[:i]
	}
	return u
}

// Sample values the playground uses for what the engine makes during a flow.
const (
	PreviewState        = "STATE"
	PreviewAuthCode     = "SAMPLE_AUTH_CODE"
	previewCodeVerifier = "sample-code-verifier-sample-code-verifier-0123"
)

// Preview is an OAuth config rendered for sample values, as the playground
// of the builder UI shows it: the link a user's browser is sent to (RFC 6749
// §4.1.1) and the token request that exchanges the code (§4.1.3), or asks
// for a client credentials token (§4.4.2). Every secret value in it is
// replaced by latchkey.Redacted.
type Preview struct {
	LinkURL      string         `json:"link_url,omitempty"`
	TokenRequest PreviewRequest `json:"token_request"`
}

// PreviewRequest is a request to a provider as it would be sent.
type PreviewRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// BasicAuthUser is the client id carried in the Authorization header
	// when the config authenticates with HTTP Basic (RFC 6749 §2.3.1); the
	// header itself is shown masked.
	BasicAuthUser string `json:"basic_auth_user,omitempty"`
}

// RenderPreview renders cfg, a version of an OAuth config of the stored app
// called app (saved or not), for sample values: the app's setting defaults,
// then the config's fixed values, then values. The state is PreviewState,
// the auth code PreviewAuthCode and a PKCE challenge (RFC 7636 §4.2) is made
// from a sample verifier. Values of secret settings, values whose names look
// secret (latchkey.LooksSecret), the code verifier and the client secret are
// masked wherever they land. A config that does not compile, or a missing
// value, is an EINVALID error naming the field ("values.NAME" for a value).
func (e *Engine) RenderPreview(ctx context.Context, app string, cfg latchkey.OAuthConfig, values map[string]string) (Preview, error) {
	c, err := e.App(ctx, app)
	if err != nil {
		return Preview{}, err
	}
	doc := c.App
	doc.OAuthConfigs = append([]latchkey.OAuthConfig(nil), c.App.OAuthConfigs...)
	replaced := false
	for i := range doc.OAuthConfigs {
		if doc.OAuthConfigs[i].Name == cfg.Name {
			doc.OAuthConfigs[i], replaced = cfg, true
		}
	}
	if !replaced {
		doc.OAuthConfigs = append(doc.OAuthConfigs, cfg)
	}
	doc.KeepRedacted(c.App)
	compiled, err := Compile(doc)
	if err != nil {
		return Preview{}, err
	}
	cc, err := compiled.config(cfg.Name)
	if err != nil {
		return Preview{}, err
	}

	vals := map[string]string{}
	for _, s := range doc.Settings {
		if s.Default != "" {
			vals[s.Name] = s.Default
		}
	}
	for k, v := range cc.cfg.Values {
		vals[k] = v
	}
	for k, v := range values {
		vals[k] = v
	}
	if vals["redirect_uri"] == "" {
		vals["redirect_uri"] = e.cfg.CallbackURL
	}
	if len(cc.cfg.Scopes) > 0 && vals["scope"] == "" {
		sep := cc.cfg.ScopeSeparator
		if sep == "" {
			sep = " "
		}
		vals["scope"] = strings.Join(cc.cfg.Scopes, sep)
	}
	vals["state"] = PreviewState
	if vals["auth_code"] == "" {
		vals["auth_code"] = PreviewAuthCode
	}
	pkce := cc.cfg.Grant() == latchkey.GrantAuthorizationCode && cc.cfg.PKCEEnabled()
	if pkce {
		vals["code_verifier"] = previewCodeVerifier
		vals["code_challenge"] = oauth2.S256ChallengeFromVerifier(previewCodeVerifier)
	}

	// Secrets are swapped for markers before rendering, so that they are
	// masked whatever encoding the templates give them.
	var markers []string
	for _, k := range sortedKeys(vals) {
		s, declared := doc.Setting(k)
		if (declared && s.Secret) || latchkey.LooksSecret(k) || k == "code_verifier" {
			if vals[k] == "" {
				continue
			}
			m := fmt.Sprintf("LATCHKEYMASK%dX", len(markers))
			markers = append(markers, m)
			vals[k] = m
		}
	}
	secret, _, err := credential(cc.clientSecret, "client_secret", vals)
	if err != nil {
		return Preview{}, previewError(err)
	}
	if secret != "" && !strings.Contains(secret, "LATCHKEYMASK") {
		markers = append(markers, secret) // a client secret written into the config itself
	}
	mask := func(s string) string {
		for _, m := range markers {
			s = strings.ReplaceAll(s, m, latchkey.Redacted)
		}
		return s
	}

	var p Preview
	if cc.cfg.Grant() == latchkey.GrantAuthorizationCode {
		link, err := e.authURL(cc, vals)
		if err != nil {
			return Preview{}, previewError(err)
		}
		p.LinkURL = mask(link)
	}
	extra := map[string]string{}
	if pkce {
		extra["code_verifier"] = vals["code_verifier"]
	}
	req, err := e.buildRequest(ctx, cc, tokenRequest{url: cc.tokenURL, urlField: "token_url", body: cc.body, field: "request_body", extra: extra}, vals)
	if err != nil {
		return Preview{}, previewError(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return Preview{}, err
	}
	p.TokenRequest = PreviewRequest{Method: req.Method, URL: mask(req.URL.String()), Body: mask(string(body)), Headers: map[string]string{}}
	for k := range req.Header {
		p.TokenRequest.Headers[k] = mask(req.Header.Get(k))
	}
	if user, _, ok := req.BasicAuth(); ok {
		p.TokenRequest.Headers["Authorization"] = "Basic " + latchkey.Redacted
		if u, err := url.QueryUnescape(user); err == nil {
			user = u
		}
		p.TokenRequest.BasicAuthUser = mask(user)
	}
	return p, nil
}

// previewError names a missing value as the playground's "values.NAME".
func previewError(err error) error {
	var le *latchkey.Error
	if errors.As(err, &le) && le.Code == latchkey.EINVALID {
		for i, f := range le.Fields {
			if !strings.Contains(f.Field, ".") && !strings.Contains(f.Field, "[") {
				le.Fields[i].Field = "values." + f.Field
			}
		}
	}
	return err
}

// Extraction is what an extraction path selects in a response.
type Extraction struct {
	Path  string `json:"path"`
	Value string `json:"value"`
}

// PreviewExtraction runs an extraction path over a pasted provider answer,
// parsed as the engine parses token responses (RFC 6749 §5.1: JSON, or a
// form-encoded body). A path that does not compile, an answer that cannot
// be parsed, or a path that selects nothing is an EINVALID error naming the
// field at fault ("path" or "response").
func PreviewExtraction(ctx context.Context, path, response, contentType string) (Extraction, error) {
	invalid := func(field, msg string) error {
		return &latchkey.Error{Code: latchkey.EINVALID, Message: field + " " + msg,
			Fields: []latchkey.FieldError{{Field: field, Message: msg}}}
	}
	if strings.TrimSpace(path) == "" {
		return Extraction{}, invalid("path", "is required")
	}
	p, err := extract.Compile(path)
	if err != nil {
		return Extraction{}, invalid("path", "is not a valid JSONPath: "+err.Error())
	}
	if strings.TrimSpace(response) == "" {
		return Extraction{}, invalid("response", "is required: paste the provider's answer")
	}
	doc, err := extract.ParseResponse(contentType, []byte(response))
	if err != nil {
		return Extraction{}, invalid("response", "cannot be read: "+err.Error())
	}
	v, ok := p.Lookup(ctx, doc)
	if !ok {
		return Extraction{}, invalid("path", fmt.Sprintf("selects nothing in this response (its top-level keys: %s)", strings.Join(sortedKeys(doc), ", ")))
	}
	return Extraction{Path: p.String(), Value: v}, nil
}
