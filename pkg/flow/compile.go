package flow

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/template"
)

// Compiled is an app document whose templates and extraction paths have been
// parsed and checked. It is built once when a document is saved or loaded and
// then only executed.
type Compiled struct {
	App     latchkey.App
	configs map[string]*compiledConfig
	apis    map[string]*compiledAPI
}

type compiledConfig struct {
	cfg          *latchkey.OAuthConfig
	app          string // the app's name, for metrics
	link         *template.Template
	tokenURL     *template.Template
	refreshURL   *template.Template
	revokeURL    *template.Template
	body         *template.Template
	refreshBody  *template.Template
	clientID     *template.Template
	clientSecret *template.Template
	authParams   map[string]*template.Template
	tokenHeaders map[string]*template.Template
	authCode     *extract.Path
	rules        extract.Rules
	callbackMeta map[string]*extract.Path
	verifyMeta   map[string]*extract.Path
	api          *apiConfig
	// refreshRules read a refresh answer: rules with the config's
	// refresh_extraction paths in place.
	refreshRules extract.Rules
	// revokeBody is the revocation request's parameters (revocation.body,
	// or RFC 7009's, which the engine adds).
	revokeBody *template.Template
	// secrets name the values a trace masks wherever they appear: secret
	// settings, the tokens, the code and its verifier.
	secrets []string
}

// Default request bodies, when a config leaves them empty: the grant's own
// parameters (RFC 6749 §4.1.3, §6 and §4.4.2). Client authentication is the
// engine's, whatever the body: it adds client_id and client_secret, or a
// Basic header, as the config's client_auth says.
var defaultBodies = [3]string{
	`{"grant_type": "authorization_code", "code": {{auth_code}}, "redirect_uri": {{redirect_uri}}}`,
	`{"grant_type": "refresh_token", "refresh_token": {{refresh_token}}}`,
	`{"grant_type": "client_credentials"}`,
}

// revokeBody holds the parameters of a revocation request (RFC 7009 §2.1)
// besides the token, its hint and the client authentication, which the
// engine adds.
var revokeBody = template.MustCompile("revocation", `{}`, template.JSONBody)

// builtins are the values the engine supplies to templates during a flow.
var builtins = map[string]bool{"auth_code": true, "code_verifier": true, "code_challenge": true,
	"state": true, "redirect_uri": true, "refresh_token": true, "scope": true}

// Compile validates an app document and compiles every template and
// extraction path in it. Problems come back as one EINVALID error listing
// each field at fault.
func Compile(app latchkey.App) (*Compiled, error) {
	if err := app.Validate(); err != nil {
		return nil, err
	}
	c := &Compiled{App: app, configs: map[string]*compiledConfig{}}
	var fe latchkey.FieldErrors
	for i := range c.App.OAuthConfigs {
		cfg := &c.App.OAuthConfigs[i]
		cc := compileConfig(&c.App, cfg, fmt.Sprintf("oauth_configs[%d]", i), &fe)
		c.configs[cfg.Name] = cc
	}
	c.compileAPIs(&fe)
	if err := fe.Err("the app document is invalid"); err != nil {
		return nil, err
	}
	return c, nil
}

func compileConfig(app *latchkey.App, cfg *latchkey.OAuthConfig, f string, fe *latchkey.FieldErrors) *compiledConfig {
	cc := &compiledConfig{cfg: cfg, app: app.Name, authParams: map[string]*template.Template{}, tokenHeaders: map[string]*template.Template{}}
	cc.secrets = []string{"auth_code", "code_verifier", "client_secret", "access_token", "refresh_token", "id_token"}
	for _, s := range app.Settings {
		if s.Secret {
			cc.secrets = append(cc.secrets, s.Name)
		}
	}
	for _, name := range []string{cfg.AccessTokenVariableName, cfg.RefreshTokenVariableName} {
		if name != "" {
			cc.secrets = append(cc.secrets, name)
		}
	}
	known := knownNames(app, cfg)
	bodies := defaultBodies
	orDefault := func(s, def string) string {
		if strings.TrimSpace(s) == "" {
			return def
		}
		return s
	}
	if cfg.Grant() == latchkey.GrantAuthorizationCode {
		cc.link = compileTemplate(fe, known, f+".link_url", cfg.LinkURL, template.URL)
		refuseSecrets(fe, app, f+".link_url", cc.link)
		cc.body = compileTemplate(fe, known, f+".request_body", orDefault(cfg.RequestBody, bodies[0]), template.JSONBody)
	} else {
		cc.body = compileTemplate(fe, known, f+".request_body", orDefault(cfg.RequestBody, bodies[2]), template.JSONBody)
	}
	cc.tokenURL = compileTemplate(fe, known, f+".token_url", cfg.TokenURL, template.URL)
	cc.refreshURL = compileTemplate(fe, known, f+".refresh_token_url", cfg.RefreshURL(), template.URL)
	if cfg.RevocationURL != "" {
		cc.revokeURL = compileTemplate(fe, known, f+".revocation_url", cfg.RevocationURL, template.URL)
	}
	if cfg.RefreshTokenVariableName != "" || cfg.RefreshTokenBody != "" {
		cc.refreshBody = compileTemplate(fe, known, f+".refresh_token_body", orDefault(cfg.RefreshTokenBody, bodies[1]), template.JSONBody)
	}
	// Client credentials are needed only for Basic authentication; the
	// templates are lenient so an app that never uses them need not define
	// client_id. They render as values that the request encodes for where
	// they go (a body's encoding, Basic), so any string can be sent.
	cc.clientID = compileTemplate(fe, nil, f+".client_id", orDefault(cfg.ClientID, "{{client_id}}"), template.Value)
	if cfg.Grant() == latchkey.GrantAuthorizationCode {
		// The client id is a parameter of the link (RFC 6749 §4.1.1).
		refuseSecrets(fe, app, f+".client_id", cc.clientID)
	}
	cc.clientSecret = compileTemplate(fe, nil, f+".client_secret", orDefault(cfg.ClientSecret, "{{client_secret}}"), template.Value)
	for _, k := range sortedKeys(cfg.AuthParams) {
		cc.authParams[k] = compileTemplate(fe, known, f+".auth_params."+k, cfg.AuthParams[k], template.Text)
		refuseSecrets(fe, app, f+".auth_params."+k, cc.authParams[k])
	}
	for _, k := range sortedKeys(cfg.TokenHeaders) {
		cc.tokenHeaders[k] = compileTemplate(fe, known, f+".token_headers."+k, cfg.TokenHeaders[k], template.Header)
	}

	path := func(field, expr, def string) *extract.Path {
		if strings.TrimSpace(expr) == "" {
			if def == "" {
				return nil
			}
			expr = def
		}
		p, err := extract.Compile(expr)
		if err != nil {
			fe.Add(f+"."+field, "is not a valid JSONPath: %v", err)
			return nil
		}
		return p
	}
	cc.authCode = path("extraction_path_auth_code", cfg.ExtractionPathAuthCode, "$.code")
	cc.rules = extract.Rules{
		AccessToken:      path("extraction_path_access_token", cfg.ExtractionPathAccessToken, "$.access_token"),
		RefreshToken:     path("extraction_path_refresh_token", cfg.ExtractionPathRefreshToken, "$.refresh_token"),
		ExpiresIn:        path("extraction_path_expires_in", cfg.ExtractionPathExpiresIn, "$.expires_in"),
		ExpiresAt:        path("extraction_path_expires_at", cfg.ExtractionPathExpiresAt, ""),
		Scope:            path("extraction_path_scope", cfg.ExtractionPathScope, "$.scope"),
		TokenType:        path("extraction_path_token_type", cfg.ExtractionPathTokenType, "$.token_type"),
		IDToken:          path("extraction_path_id_token", cfg.ExtractionPathIDToken, "$.id_token"),
		Error:            path("extraction_path_error", cfg.ExtractionPathError, "$.error"),
		ErrorDescription: path("extraction_path_error_description", cfg.ExtractionPathErrorDescription, "$.error_description"),
		Success:          path("success_condition", cfg.SuccessCondition, ""),
		Metadata:         map[string]*extract.Path{},
	}
	if unit, ok := latchkey.ExpiresInUnits[cfg.ExpiresInUnit]; ok {
		cc.rules.ExpiresInUnit = unit
	}
	cc.rules.DefaultExpiresIn = time.Duration(cfg.DefaultExpiresIn)
	cc.callbackMeta = map[string]*extract.Path{}
	cc.verifyMeta = map[string]*extract.Path{}
	cc.api = compileAPIConfig(app, cfg, f, fe)
	for i, m := range cfg.Metadata {
		p := path(fmt.Sprintf("metadata[%d].path", i), m.Path, "")
		if p == nil {
			continue
		}
		if m.From == latchkey.FromCallback {
			cc.callbackMeta[m.Setting] = p
		} else if m.From == latchkey.FromVerify {
			cc.verifyMeta[m.Setting] = p
		} else {
			cc.rules.Metadata[m.Setting] = p
		}
	}
	cc.refreshRules = cc.rules
	if r := cfg.RefreshExtraction; r != nil {
		override := func(dst **extract.Path, field, expr string) {
			if p := path("refresh_extraction."+field, expr, ""); p != nil {
				*dst = p
			}
		}
		override(&cc.refreshRules.AccessToken, "access_token", r.AccessToken)
		override(&cc.refreshRules.RefreshToken, "refresh_token", r.RefreshToken)
		override(&cc.refreshRules.ExpiresIn, "expires_in", r.ExpiresIn)
		override(&cc.refreshRules.ExpiresAt, "expires_at", r.ExpiresAt)
		override(&cc.refreshRules.Scope, "scope", r.Scope)
		override(&cc.refreshRules.TokenType, "token_type", r.TokenType)
		override(&cc.refreshRules.IDToken, "id_token", r.IDToken)
	}
	cc.revokeBody = revokeBody
	if r := cfg.Revocation; r != nil && strings.TrimSpace(r.Body) != "" {
		cc.revokeBody = compileTemplate(fe, known, f+".revocation.body", r.Body, template.JSONBody)
	}
	return cc
}

// knownNames are the names a config's templates may refer to: the app's
// settings, the config's fixed values and the engine's built-ins. A nil
// result turns the check off.
func knownNames(app *latchkey.App, cfg *latchkey.OAuthConfig) map[string]bool {
	known := map[string]bool{}
	for n := range builtins {
		known[n] = true
	}
	for _, s := range app.Settings {
		known[s.Name] = true
	}
	for _, c := range app.OAuthConfigs {
		if cfg != nil && c.Name != cfg.Name {
			continue
		}
		for n := range c.Values {
			known[n] = true
		}
	}
	return known
}

func compileTemplate(fe *latchkey.FieldErrors, known map[string]bool, field, src string, ctx template.Context) *template.Template {
	t, err := template.Compile(field, src, ctx)
	if err != nil {
		fe.Add(field, "%v", err)
		return nil
	}
	if ctx == template.URL {
		if err := checkHost(src); err != nil {
			fe.Add(field, "%v", err)
			return nil
		}
	}
	if known != nil {
		var unknown []string
		for _, v := range t.Vars() {
			if !known[v] {
				unknown = append(unknown, "{{"+v+"}}")
			}
		}
		if len(unknown) > 0 {
			fe.Add(field, "refers to %s, which is no setting of the app, no value of the config and no built-in (%s)",
				strings.Join(unknown, ", "), strings.Join(sortedKeys(builtins), ", "))
		}
	}
	return t
}

// refuseSecrets refuses a template of the authorization request (the link
// and its extra parameters) that refers to a secret value: the request is
// a URL the user's browser is sent to (RFC 6749 §4.1.1), seen in its address
// bar and history and in the provider's logs, so a secret belongs only in
// the token request (RFC 6749 §2.3.1, §4.1.3). Secret are the values of
// secret settings and token variables (latchkey.App.IsSecret), a config's
// fixed values that listings redact, and the built-in refresh_token and
// code_verifier (RFC 7636 §4.3 sends only the challenge). The check runs over
// the names the compiled template refers to, so that no spelling of a
// reference gets past it.
func refuseSecrets(fe *latchkey.FieldErrors, app *latchkey.App, field string, t *template.Template) {
	if t == nil {
		return
	}
	var secret []string
	for _, v := range t.Vars() {
		if secretValue(app, v) {
			secret = append(secret, "{{"+v+"}}")
		}
	}
	if len(secret) > 0 {
		fe.Add(field, "puts the secret %s into the authorization URL, which the user's browser and the provider's logs see; send secrets only in the token request",
			strings.Join(secret, ", "))
	}
}

// secretValue reports whether the value called name is a secret a template
// must not put where a browser sees it.
func secretValue(app *latchkey.App, name string) bool {
	switch {
	case name == "refresh_token", name == "code_verifier", app.IsSecret(name):
		return true
	}
	if _, declared := app.Setting(name); declared {
		return false
	}
	for _, c := range app.OAuthConfigs {
		if _, fixed := c.Values[name]; fixed && latchkey.LooksSecret(name) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var actionRE = regexp.MustCompile(`\{\{.*?\}\}`)

// checkHost refuses a URL template whose registrable domain could come from
// a value: after the last value in the host, the literal text must hold at
// least two labels ({{shop}}.myshopify.com), so a value can choose a
// subdomain of a domain the admin wrote, never the domain itself.
func checkHost(src string) error {
	rest, ok := strings.CutPrefix(src, "https://")
	if !ok {
		rest, _ = strings.CutPrefix(src, "http://")
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if !strings.Contains(host, "{{") {
		return nil
	}
	if i := strings.LastIndex(host, ":"); i > strings.LastIndex(host, "}}") {
		host = host[:i]
	}
	locs := actionRE.FindAllStringIndex(host, -1)
	if len(locs) == 0 {
		return nil
	}
	tail := host[locs[len(locs)-1][1]:]
	if strings.Count(tail, ".") < 2 || strings.HasSuffix(tail, ".") {
		return fmt.Errorf("a value may fill only a subdomain: write the domain after it in the template, such as {{shop}}.myshopify.com")
	}
	return nil
}
