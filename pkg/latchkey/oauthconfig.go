package latchkey

import (
	"fmt"
	"strings"
	"time"
)

// Grant types an OAuth config can run (RFC 6749 §4.1 and §4.4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
)

// Encodings of a token or refresh request's parameters: in a form body
// (RFC 6749 §4.1.3, the default), in a JSON body, or in the token URL's query
// string with an empty body (seed 000: Slingr).
const (
	EncodingForm  = "form"
	EncodingJSON  = "json"
	EncodingQuery = "query"
)

// Client authentication methods (RFC 6749 §2.3.1): the client's credentials
// as parameters of the request, in an HTTP Basic header, or not at all.
const (
	ClientAuthBody  = "body"
	ClientAuthBasic = "basic"
	ClientAuthNone  = "none"
)

// Where a metadata rule takes its value from.
const (
	FromCallback = "callback" // the authorization callback's query parameters
	FromToken    = "token"    // the token response
)

// OAuthConfig declares one OAuth 2 flow of an app. The fields named as in seed
// 002 (link URL, token URL, request body, extraction paths, variable names…)
// are the core; every other field is optional and has a default that suits a
// provider following RFC 6749.
//
// URLs, bodies, headers and parameters are templates over the app's settings
// and the flow's built-in values (auth_code, code_verifier, state,
// redirect_uri, refresh_token). Extraction paths are JSONPath expressions.
type OAuthConfig struct {
	Name        string `json:"name" yaml:"name"`
	Label       string `json:"label,omitempty" yaml:"label,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	LogoURL     string `json:"logo_url,omitempty" yaml:"logo_url,omitempty"`

	// GrantType is authorization_code (the default) or client_credentials.
	GrantType string `json:"grant_type,omitempty" yaml:"grant_type,omitempty"`

	LinkURL         string `json:"link_url,omitempty" yaml:"link_url,omitempty"`
	TokenURL        string `json:"token_url,omitempty" yaml:"token_url,omitempty"`
	RefreshTokenURL string `json:"refresh_token_url,omitempty" yaml:"refresh_token_url,omitempty"`
	// RevocationURL, when set, is called on disconnect (RFC 7009).
	RevocationURL string `json:"revocation_url,omitempty" yaml:"revocation_url,omitempty"`

	// RequestBody is a template of a JSON object: the parameters of the code
	// exchange. Empty means the RFC 6749 §4.1.3 parameters.
	RequestBody string `json:"request_body,omitempty" yaml:"request_body,omitempty"`
	// RefreshTokenBody is a template of a JSON object: the parameters of a
	// refresh. Empty means the RFC 6749 §6 parameters.
	RefreshTokenBody string `json:"refresh_token_body,omitempty" yaml:"refresh_token_body,omitempty"`
	// RequestEncoding is form (the default), json or query.
	RequestEncoding string `json:"request_encoding,omitempty" yaml:"request_encoding,omitempty"`
	// ClientAuth is body (the default), basic or none.
	ClientAuth string `json:"client_auth,omitempty" yaml:"client_auth,omitempty"`
	// ClientID and ClientSecret are templates giving the client's credentials
	// for HTTP Basic authentication and the default link and bodies; they
	// default to {{client_id}} and {{client_secret}}.
	ClientID     string `json:"client_id,omitempty" yaml:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty" yaml:"client_secret,omitempty"`
	// PKCE turns RFC 7636 S256 on or off; it is on when unset.
	PKCE *bool `json:"pkce,omitempty" yaml:"pkce,omitempty"`
	// Scopes are requested on the link, joined with ScopeSeparator (a space
	// by default; "," and "+" are the other choices).
	Scopes         []string `json:"scopes,omitempty" yaml:"scopes,omitempty"`
	ScopeSeparator string   `json:"scope_separator,omitempty" yaml:"scope_separator,omitempty"`
	// AuthParams are extra query parameters of the link (templates).
	AuthParams map[string]string `json:"auth_params,omitempty" yaml:"auth_params,omitempty"`
	// TokenHeaders are extra headers of token, refresh and revocation
	// requests (templates), such as GitHub's Accept: application/json.
	TokenHeaders map[string]string `json:"token_headers,omitempty" yaml:"token_headers,omitempty"`

	// Extraction paths. The auth code path runs over the callback's query
	// parameters as a JSON object; the others over the token response.
	// Empty paths default to the RFC 6749 §5.1 and §5.2 names.
	ExtractionPathAuthCode         string `json:"extraction_path_auth_code,omitempty" yaml:"extraction_path_auth_code,omitempty"`
	ExtractionPathAccessToken      string `json:"extraction_path_access_token,omitempty" yaml:"extraction_path_access_token,omitempty"`
	ExtractionPathRefreshToken     string `json:"extraction_path_refresh_token,omitempty" yaml:"extraction_path_refresh_token,omitempty"`
	ExtractionPathExpiresIn        string `json:"extraction_path_expires_in,omitempty" yaml:"extraction_path_expires_in,omitempty"`
	ExtractionPathExpiresAt        string `json:"extraction_path_expires_at,omitempty" yaml:"extraction_path_expires_at,omitempty"`
	ExtractionPathScope            string `json:"extraction_path_scope,omitempty" yaml:"extraction_path_scope,omitempty"`
	ExtractionPathTokenType        string `json:"extraction_path_token_type,omitempty" yaml:"extraction_path_token_type,omitempty"`
	ExtractionPathIDToken          string `json:"extraction_path_id_token,omitempty" yaml:"extraction_path_id_token,omitempty"`
	ExtractionPathError            string `json:"extraction_path_error,omitempty" yaml:"extraction_path_error,omitempty"`
	ExtractionPathErrorDescription string `json:"extraction_path_error_description,omitempty" yaml:"extraction_path_error_description,omitempty"`
	// SuccessCondition, when set, is an expression over the token response
	// that must be true for the answer to count as a success (Slack: $.ok).
	SuccessCondition string `json:"success_condition,omitempty" yaml:"success_condition,omitempty"`

	// AccessTokenVariableName and RefreshTokenVariableName name the settings
	// that receive the tokens.
	AccessTokenVariableName  string `json:"access_token_variable_name,omitempty" yaml:"access_token_variable_name,omitempty"`
	RefreshTokenVariableName string `json:"refresh_token_variable_name,omitempty" yaml:"refresh_token_variable_name,omitempty"`

	// Metadata captures further values of the callback or the token
	// response (QuickBooks realmId, Salesforce instance_url) as settings.
	Metadata []MetadataRule `json:"metadata,omitempty" yaml:"metadata,omitempty"`

	// Values fixes org-level values in the config itself, for an app with no
	// install prompt (seed 002, "Alternatively…").
	Values map[string]string `json:"values,omitempty" yaml:"values,omitempty"`

	// RefreshMargin is how long before expiry a token is refreshed; zero
	// means the engine's default.
	RefreshMargin Duration `json:"refresh_margin,omitempty" yaml:"refresh_margin,omitempty"`

	// KeepAliveInterval, when set, has the refresh worker refresh a
	// connection that has not been refreshed for that long even though its
	// access token is still valid, so that a provider whose refresh tokens
	// expire when unused does not let them lapse. Zero means never.
	KeepAliveInterval Duration `json:"keep_alive_interval,omitempty" yaml:"keep_alive_interval,omitempty"`

	// RefreshTokenGracePeriod is how long the provider keeps accepting a
	// refresh token after it has answered a refresh with a new one. When a
	// refresh was interrupted after the provider answered but before the
	// answer was stored, the next attempt retries with the stored (previous)
	// refresh token only within this window; past it, or when it is zero,
	// the connection is marked needs_reauth rather than left silently
	// broken.
	RefreshTokenGracePeriod Duration `json:"refresh_token_grace_period,omitempty" yaml:"refresh_token_grace_period,omitempty"`

	// APIBaseURL is the provider's API base URL, a template over the app's
	// settings (https://{{subdomain}}.zendesk.com/api/v2): proxied calls go
	// under it, and an API of the app whose URL is a path starting with '/'
	// is joined to it.
	APIBaseURL string `json:"api_base_url,omitempty" yaml:"api_base_url,omitempty"`
	// APICredentials are the headers and query parameters that carry the
	// credentials on proxied calls and on the APIs joined to APIBaseURL;
	// unset means Authorization: Bearer {{<AccessTokenVariableName>}}.
	APICredentials *APICredentials `json:"api_credentials,omitempty" yaml:"api_credentials,omitempty"`
	// VerifyAPI names the app's API that checks a new connection (such as a
	// /me call); its answer can fill settings through metadata rules.
	VerifyAPI string `json:"verify_api,omitempty" yaml:"verify_api,omitempty"`

	// RefreshExtraction, when set, replaces extraction paths for the answer
	// to a refresh (RFC 6749 §6), for a provider whose refresh answer is
	// shaped unlike its code exchange's: Slack's rotating user token sits
	// under authed_user in the exchange and at the top level on refresh. An
	// empty path keeps the config's own.
	RefreshExtraction *ExtractionPaths `json:"refresh_extraction,omitempty" yaml:"refresh_extraction,omitempty"`
	// ExpiresInUnit is the unit of the answer's expires_in: seconds (the
	// default, RFC 6749 §5.1), milliseconds, minutes, hours or days.
	ExpiresInUnit string `json:"expires_in_unit,omitempty" yaml:"expires_in_unit,omitempty"`
	// DefaultExpiresIn is the access token's lifetime when the answer gives
	// none (no expires_in, no expires_at) and the provider documents one.
	DefaultExpiresIn Duration `json:"default_expires_in,omitempty" yaml:"default_expires_in,omitempty"`
	// Revocation shapes the request sent to RevocationURL when the
	// provider's is not RFC 7009's form POST of token and token_type_hint
	// (GitHub: DELETE with Basic authentication and a JSON body).
	Revocation *RevocationRequest `json:"revocation,omitempty" yaml:"revocation,omitempty"`
}

// ExtractionPaths are JSONPath expressions of the values of a token
// response (RFC 6749 §5.1), for OAuthConfig.RefreshExtraction.
type ExtractionPaths struct {
	AccessToken  string `json:"access_token,omitempty" yaml:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty" yaml:"refresh_token,omitempty"`
	ExpiresIn    string `json:"expires_in,omitempty" yaml:"expires_in,omitempty"`
	ExpiresAt    string `json:"expires_at,omitempty" yaml:"expires_at,omitempty"`
	Scope        string `json:"scope,omitempty" yaml:"scope,omitempty"`
	TokenType    string `json:"token_type,omitempty" yaml:"token_type,omitempty"`
	IDToken      string `json:"id_token,omitempty" yaml:"id_token,omitempty"`
}

// RevocationRequest is a revocation request that is not RFC 7009's: its
// method (POST by default, or DELETE), its encoding (the config's
// request_encoding by default), its client authentication (the config's
// client_auth by default) and its parameters, a JSON-object template over
// the connection's values (such as {"access_token": {{access_token}}});
// empty means RFC 7009 §2.1's token and token_type_hint.
type RevocationRequest struct {
	Method     string `json:"method,omitempty" yaml:"method,omitempty"`
	Encoding   string `json:"encoding,omitempty" yaml:"encoding,omitempty"`
	ClientAuth string `json:"client_auth,omitempty" yaml:"client_auth,omitempty"`
	Body       string `json:"body,omitempty" yaml:"body,omitempty"`
}

// Units of OAuthConfig.ExpiresInUnit, each with its length.
var ExpiresInUnits = map[string]time.Duration{"seconds": time.Second, "milliseconds": time.Millisecond,
	"minutes": time.Minute, "hours": time.Hour, "days": 24 * time.Hour}

// APICredentials are the templates that put a connection's credentials on
// a call to the provider's API: headers (Authorization: Bearer
// {{access_token}}) or query parameters (access_token={{access_token}}).
type APICredentials struct {
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	Query   map[string]string `json:"query,omitempty" yaml:"query,omitempty"`
}

// MetadataRule stores the value at Path of the callback query or the token
// response as the setting called Setting.
type MetadataRule struct {
	Setting string `json:"setting" yaml:"setting"`
	From    string `json:"from" yaml:"from"`
	Path    string `json:"path" yaml:"path"`
}

// Duration is a time.Duration written as a Go duration string ("5m").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration such as \"5m\" or \"90s\"")
	}
	*d = Duration(v)
	return nil
}

// PKCEEnabled reports whether the flow uses PKCE (on unless turned off).
func (c *OAuthConfig) PKCEEnabled() bool { return c.PKCE == nil || *c.PKCE }

// Grant returns the grant type, defaulted.
func (c *OAuthConfig) Grant() string {
	if c.GrantType == "" {
		return GrantAuthorizationCode
	}
	return c.GrantType
}

// Encoding returns the request encoding, defaulted.
func (c *OAuthConfig) Encoding() string {
	if c.RequestEncoding == "" {
		return EncodingForm
	}
	return c.RequestEncoding
}

// Auth returns the client authentication method, defaulted.
func (c *OAuthConfig) Auth() string {
	if c.ClientAuth == "" {
		return ClientAuthBody
	}
	return c.ClientAuth
}

// DisplayLabel returns the label shown to users: Label, or the name.
func (c *OAuthConfig) DisplayLabel() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Name
}

// RefreshURL returns the refresh token URL, or the token URL when none is set.
func (c *OAuthConfig) RefreshURL() string {
	if c.RefreshTokenURL != "" {
		return c.RefreshTokenURL
	}
	return c.TokenURL
}

// TokenLevel is the level of the settings that receive this config's
// tokens: user for the authorization code grant, org for client credentials.
func (c *OAuthConfig) TokenLevel() Level {
	if c.Grant() == GrantClientCredentials {
		return LevelOrg
	}
	return LevelUser
}

func (c *OAuthConfig) validate(a *App, f string, fe *FieldErrors) {
	if !ValidName(c.Name) {
		fe.Add(f+".name", "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit")
	}
	switch c.Grant() {
	case GrantAuthorizationCode:
		if strings.TrimSpace(c.LinkURL) == "" {
			fe.Add(f+".link_url", "is required for the authorization_code grant")
		}
	case GrantClientCredentials:
	default:
		fe.Add(f+".grant_type", "must be %q or %q", GrantAuthorizationCode, GrantClientCredentials)
	}
	if strings.TrimSpace(c.TokenURL) == "" {
		fe.Add(f+".token_url", "is required")
	}
	for field, u := range map[string]string{"link_url": c.LinkURL, "token_url": c.TokenURL,
		"refresh_token_url": c.RefreshTokenURL, "revocation_url": c.RevocationURL, "logo_url": c.LogoURL} {
		// Templated URLs are checked when the engine compiles them.
		if u != "" && !strings.Contains(u, "{{") {
			if err := CheckAbsoluteURL(u); err != nil {
				fe.Add(f+"."+field, "%v", err)
			}
		}
	}
	switch c.Encoding() {
	case EncodingForm, EncodingJSON, EncodingQuery:
	default:
		fe.Add(f+".request_encoding", "must be %q, %q or %q", EncodingForm, EncodingJSON, EncodingQuery)
	}
	switch c.Auth() {
	case ClientAuthBody, ClientAuthBasic, ClientAuthNone:
	default:
		fe.Add(f+".client_auth", "must be %q, %q or %q", ClientAuthBody, ClientAuthBasic, ClientAuthNone)
	}
	switch c.ScopeSeparator {
	case "", " ", ",", "+":
	default:
		fe.Add(f+".scope_separator", "must be a space, \",\" or \"+\"")
	}
	for i, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " ,+\r\n\t") {
			fe.Add(fmt.Sprintf("%s.scopes[%d]", f, i), "must be a non-empty scope without spaces, ',' or '+'")
		}
	}
	level := c.TokenLevel()
	checkVar := func(field, name string, required bool) {
		if name == "" {
			if required {
				fe.Add(f+"."+field, "is required: the %s-level setting that receives the token", level)
			}
			return
		}
		s, ok := a.Setting(name)
		switch {
		case !ok:
			fe.Add(f+"."+field, "names no setting: declare a %s-level setting %q", level, name)
		case s.Level != level:
			fe.Add(f+"."+field, "setting %q is %s-level; tokens of a %s grant go to a %s-level setting", name, s.Level, c.Grant(), level)
		}
	}
	checkVar("access_token_variable_name", c.AccessTokenVariableName, true)
	checkVar("refresh_token_variable_name", c.RefreshTokenVariableName, false)
	if c.AccessTokenVariableName != "" && c.AccessTokenVariableName == c.RefreshTokenVariableName {
		fe.Add(f+".refresh_token_variable_name", "must differ from access_token_variable_name")
	}
	for i, m := range c.Metadata {
		mf := fmt.Sprintf("%s.metadata[%d]", f, i)
		if m.From != FromCallback && m.From != FromToken {
			fe.Add(mf+".from", "must be %q or %q", FromCallback, FromToken)
		}
		if strings.TrimSpace(m.Path) == "" {
			fe.Add(mf+".path", "is required")
		}
		checkVar(fmt.Sprintf("metadata[%d].setting", i), m.Setting, true)
	}
	for name := range c.Values {
		if !ValidSettingName(name) {
			fe.Add(f+".values."+name, "must be an identifier (letters, digits, '_')")
		} else if s, ok := a.Setting(name); ok && s.Level == LevelUser {
			fe.Add(f+".values."+name, "setting %q is user-level; a config can fix only org-level values", name)
		}
	}
	if c.RefreshMargin < 0 {
		fe.Add(f+".refresh_margin", "must not be negative")
	}
	if c.KeepAliveInterval < 0 {
		fe.Add(f+".keep_alive_interval", "must not be negative")
	}
	if c.RefreshTokenGracePeriod < 0 {
		fe.Add(f+".refresh_token_grace_period", "must not be negative")
	}
	if _, ok := ExpiresInUnits[c.ExpiresInUnit]; c.ExpiresInUnit != "" && !ok {
		fe.Add(f+".expires_in_unit", "must be seconds, milliseconds, minutes, hours or days")
	}
	if c.DefaultExpiresIn < 0 {
		fe.Add(f+".default_expires_in", "must not be negative")
	}
	if r := c.Revocation; r != nil {
		if c.RevocationURL == "" {
			fe.Add(f+".revocation", "needs a revocation_url")
		}
		switch strings.ToUpper(r.Method) {
		case "", "POST", "DELETE":
		default:
			fe.Add(f+".revocation.method", "must be POST or DELETE")
		}
		switch r.Encoding {
		case "", EncodingForm, EncodingJSON, EncodingQuery:
		default:
			fe.Add(f+".revocation.encoding", "must be %q, %q or %q", EncodingForm, EncodingJSON, EncodingQuery)
		}
		switch r.ClientAuth {
		case "", ClientAuthBody, ClientAuthBasic, ClientAuthNone:
		default:
			fe.Add(f+".revocation.client_auth", "must be %q, %q or %q", ClientAuthBody, ClientAuthBasic, ClientAuthNone)
		}
	}
}
