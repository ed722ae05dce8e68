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
	FromVerify   = "verify"   // the answer of the config's verify_api
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
	// Name identifies the config in URLs (…/connections/{config}), as
	// App.Name does.
	Name string `json:"name" yaml:"name"`
	// Label is the provider's name as people read it, on the landing page.
	Label string `json:"label,omitempty" yaml:"label,omitempty"`
	// Description says what connecting gives access to, in the UI.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// LogoURL is an image of the provider, shown on the landing page.
	LogoURL string `json:"logo_url,omitempty" yaml:"logo_url,omitempty"`

	// GrantType is authorization_code (the default) or client_credentials.
	GrantType string `json:"grant_type,omitempty" yaml:"grant_type,omitempty"`

	// LinkURL is the provider's authorization endpoint (RFC 6749 §3.1) with
	// its query, a template: where a link sends the user to allow access.
	LinkURL string `json:"link_url,omitempty" yaml:"link_url,omitempty"`
	// TokenURL is the provider's token endpoint (RFC 6749 §3.2), a template.
	TokenURL string `json:"token_url,omitempty" yaml:"token_url,omitempty"`
	// RefreshTokenURL is where refreshes go (RFC 6749 §6); TokenURL when
	// empty.
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

	// ExtractionPathAuthCode is the path of the authorization code in the
	// callback's query parameters ($.code by default).
	ExtractionPathAuthCode string `json:"extraction_path_auth_code,omitempty" yaml:"extraction_path_auth_code,omitempty"`
	// ExtractionPathAccessToken is the path of the access token
	// ($.access_token by default).
	ExtractionPathAccessToken string `json:"extraction_path_access_token,omitempty" yaml:"extraction_path_access_token,omitempty"`
	// ExtractionPathRefreshToken is the path of the refresh token
	// ($.refresh_token by default).
	ExtractionPathRefreshToken string `json:"extraction_path_refresh_token,omitempty" yaml:"extraction_path_refresh_token,omitempty"`
	// ExtractionPathExpiresIn is the path of the token's lifetime, in
	// ExpiresInUnit ($.expires_in by default).
	ExtractionPathExpiresIn string `json:"extraction_path_expires_in,omitempty" yaml:"extraction_path_expires_in,omitempty"`
	// ExtractionPathExpiresAt is the path of the expiry as Unix seconds or an
	// RFC 3339 time, for providers that give one; none by default.
	ExtractionPathExpiresAt string `json:"extraction_path_expires_at,omitempty" yaml:"extraction_path_expires_at,omitempty"`
	// ExtractionPathScope is the path of the granted scopes ($.scope by
	// default).
	ExtractionPathScope string `json:"extraction_path_scope,omitempty" yaml:"extraction_path_scope,omitempty"`
	// ExtractionPathTokenType is the path of the token type ($.token_type
	// by default).
	ExtractionPathTokenType string `json:"extraction_path_token_type,omitempty" yaml:"extraction_path_token_type,omitempty"`
	// ExtractionPathIDToken is the path of the OpenID Connect ID token
	// ($.id_token by default).
	ExtractionPathIDToken string `json:"extraction_path_id_token,omitempty" yaml:"extraction_path_id_token,omitempty"`
	// ExtractionPathError is the path of an OAuth error code (RFC 6749
	// §5.2; $.error by default), which makes the answer a refusal.
	ExtractionPathError string `json:"extraction_path_error,omitempty" yaml:"extraction_path_error,omitempty"`
	// ExtractionPathErrorDescription is the path of the error's
	// description ($.error_description by default).
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
	// APICalls tunes proxied and declared calls to the provider's API: what
	// answer means "token expired", which are retried, and the provider's
	// rate-limit reset header. Unset means the defaults of APICallPolicy.
	APICalls *APICallPolicy `json:"api_calls,omitempty" yaml:"api_calls,omitempty"`
}

// APICallPolicy says how Latchkey reads a provider's answers to API calls.
type APICallPolicy struct {
	// TokenExpiredStatuses are the statuses that mean the access token is
	// no longer accepted (RFC 6750 §3.1 invalid_token); 401 when empty.
	TokenExpiredStatuses []int `json:"token_expired_statuses,omitempty" yaml:"token_expired_statuses,omitempty"`
	// TokenExpiredCondition, when set, is a JSONPath condition over a JSON
	// answer of at most 1 MiB, of any status, that also means the token
	// expired, for APIs that answer 200 with an error body
	// ($.error == "token_expired").
	TokenExpiredCondition string `json:"token_expired_condition,omitempty" yaml:"token_expired_condition,omitempty"`
	// RetryStatuses are the statuses retried (idempotent methods, or when
	// the caller asks); 429, 500, 502, 503 and 504 when empty.
	RetryStatuses []int `json:"retry_statuses,omitempty" yaml:"retry_statuses,omitempty"`
	// MaxRetries bounds the retries of one call; 2 when zero, none when
	// negative.
	MaxRetries int `json:"max_retries,omitempty" yaml:"max_retries,omitempty"`
	// RateLimitResetHeader names the header that says when a rate limit
	// resets (X-RateLimit-Reset), read as RateLimitResetFormat: seconds to
	// wait, or epoch (Unix seconds). Retry-After (RFC 9110 §10.2.3) is
	// always honoured.
	RateLimitResetHeader string `json:"rate_limit_reset_header,omitempty" yaml:"rate_limit_reset_header,omitempty"`
	// RateLimitResetFormat is seconds or epoch, how RateLimitResetHeader
	// is read.
	RateLimitResetFormat string `json:"rate_limit_reset_format,omitempty" yaml:"rate_limit_reset_format,omitempty"`
}

// Formats of APICallPolicy.RateLimitResetFormat.
const (
	ResetSeconds = "seconds"
	ResetEpoch   = "epoch"
)

// ExtractionPaths are JSONPath expressions of the values of a token
// response (RFC 6749 §5.1), for OAuthConfig.RefreshExtraction.
type ExtractionPaths struct {
	// AccessToken is the path of the access token (access_token).
	AccessToken string `json:"access_token,omitempty" yaml:"access_token,omitempty"`
	// RefreshToken is the path of the refresh token (refresh_token).
	RefreshToken string `json:"refresh_token,omitempty" yaml:"refresh_token,omitempty"`
	// ExpiresIn is the path of the lifetime in expires_in_unit (expires_in).
	ExpiresIn string `json:"expires_in,omitempty" yaml:"expires_in,omitempty"`
	// ExpiresAt is the path of the expiry as a time (expires_at).
	ExpiresAt string `json:"expires_at,omitempty" yaml:"expires_at,omitempty"`
	// Scope is the path of the granted scopes (scope).
	Scope string `json:"scope,omitempty" yaml:"scope,omitempty"`
	// TokenType is the path of the token type (token_type).
	TokenType string `json:"token_type,omitempty" yaml:"token_type,omitempty"`
	// IDToken is the path of the OpenID Connect ID token (id_token).
	IDToken string `json:"id_token,omitempty" yaml:"id_token,omitempty"`
}

// RevocationRequest is a revocation request that is not RFC 7009's: its
// method (POST by default, or DELETE), its encoding (the config's
// request_encoding by default), its client authentication (the config's
// client_auth by default) and its parameters, a JSON-object template over
// the connection's values (such as {"access_token": {{access_token}}});
// empty means RFC 7009 §2.1's token and token_type_hint.
type RevocationRequest struct {
	// Method is POST (the default) or DELETE.
	Method string `json:"method,omitempty" yaml:"method,omitempty"`
	// Encoding is form, json or query; the config's request_encoding
	// when empty.
	Encoding string `json:"encoding,omitempty" yaml:"encoding,omitempty"`
	// ClientAuth is body, basic or none; the config's client_auth when
	// empty.
	ClientAuth string `json:"client_auth,omitempty" yaml:"client_auth,omitempty"`
	// Body is a JSON-object template of the parameters; RFC 7009 §2.1's
	// token and token_type_hint when empty.
	Body string `json:"body,omitempty" yaml:"body,omitempty"`
}

// Units of OAuthConfig.ExpiresInUnit, each with its length.
var ExpiresInUnits = map[string]time.Duration{"seconds": time.Second, "milliseconds": time.Millisecond,
	"minutes": time.Minute, "hours": time.Hour, "days": 24 * time.Hour}

// APICredentials are the templates that put a connection's credentials on
// a call to the provider's API: headers (Authorization: Bearer
// {{access_token}}) or query parameters (access_token={{access_token}}).
type APICredentials struct {
	// Headers are set on each call (Authorization: Bearer
	// {{access_token}} when both are empty).
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// Query are query parameters added to each call (access_token=
	// {{access_token}}).
	Query map[string]string `json:"query,omitempty" yaml:"query,omitempty"`
}

// MetadataRule stores the value at Path of the callback query or the token
// response as the setting called Setting.
type MetadataRule struct {
	// Setting names the user-level setting that receives the value.
	Setting string `json:"setting" yaml:"setting"`
	// From is callback, token or verify (the answer of verify_api).
	From string `json:"from" yaml:"from"`
	// Path is the JSONPath of the value in that answer.
	Path string `json:"path" yaml:"path"`
}

// Duration is a time.Duration written as a Go duration string ("5m").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(FormatDuration(time.Duration(d))), nil }

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
		switch m.From {
		case FromCallback, FromToken:
		case FromVerify:
			if c.VerifyAPI == "" {
				fe.Add(mf+".from", "%q needs the config's verify_api", FromVerify)
			}
		default:
			fe.Add(mf+".from", "must be %q, %q or %q", FromCallback, FromToken, FromVerify)
		}
		if strings.TrimSpace(m.Path) == "" {
			fe.Add(mf+".path", "is required")
		}
		checkVar(fmt.Sprintf("metadata[%d].setting", i), m.Setting, true)
	}
	for name := range c.Values {
		if !ValidSettingName(name) {
			fe.Add(f+".values."+name, "must be an identifier (letters, digits, '_')")
		} else if s, ok := a.Setting(name); !ok && !c.usesValue(a, name) {
			fe.Add(f+".values."+name, "names no setting of the app and no template uses it: declare an org-level setting %q", name)
		} else if ok && s.Level == LevelUser {
			fe.Add(f+".values."+name, "setting %q is user-level; a config can fix only org-level values", name)
		}
	}
	if _, ok := ExpiresInUnits[c.ExpiresInUnit]; c.ExpiresInUnit != "" && !ok {
		fe.Add(f+".expires_in_unit", "must be seconds, milliseconds, minutes, hours or days")
	}
	DefaultExpiresInBounds.check(fe, f+".default_expires_in", c.DefaultExpiresIn, "none: the token's lifetime is unknown")
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
	c.validateAPI(a, f, fe)
	RefreshMarginBounds.check(fe, f+".refresh_margin", c.RefreshMargin, "the default, 1m")
	KeepAliveIntervalBounds.check(fe, f+".keep_alive_interval", c.KeepAliveInterval, "off")
	RefreshTokenGracePeriodBounds.check(fe, f+".refresh_token_grace_period", c.RefreshTokenGracePeriod, "none")
}

// DurationBounds are the least and the greatest value a duration field of a
// document may hold when it is set; zero always means the field's default.
type DurationBounds struct{ Min, Max time.Duration }

// Bounds of the durations of an OAuth config. A keep-alive shorter than an
// hour would refresh a connection on nearly every round of the refresh
// worker; margins and grace periods longer than a day describe no
// provider's tokens.
var (
	RefreshMarginBounds           = DurationBounds{Min: time.Second, Max: 24 * time.Hour}
	KeepAliveIntervalBounds       = DurationBounds{Min: time.Hour, Max: 365 * 24 * time.Hour}
	RefreshTokenGracePeriodBounds = DurationBounds{Min: time.Second, Max: 24 * time.Hour}
	// DefaultExpiresInBounds: no provider documents an access token that
	// lives longer than a year without saying so in its answer.
	DefaultExpiresInBounds = DurationBounds{Min: time.Second, Max: 366 * 24 * time.Hour}
)

// Check returns an error naming the bounds unless d is within them.
func (b DurationBounds) Check(d time.Duration) error {
	if d < b.Min || d > b.Max {
		return fmt.Errorf("must be between %s and %s", FormatDuration(b.Min), FormatDuration(b.Max))
	}
	return nil
}

func (b DurationBounds) check(fe *FieldErrors, field string, d Duration, zero string) {
	if d == 0 {
		return
	}
	if err := b.Check(time.Duration(d)); err != nil {
		fe.Add(field, "%v, or 0 (%s)", err, zero)
	}
}

// FormatDuration writes d as a Go duration without trailing zero units
// ("24h", "1h30m", "90s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *OAuthConfig) validateAPI(a *App, f string, fe *FieldErrors) {
	if u := c.APIBaseURL; u != "" && !strings.Contains(u, "{{") {
		if err := CheckAbsoluteURL(u); err != nil {
			fe.Add(f+".api_base_url", "%v", err)
		}
	}
	if c.APICredentials != nil && c.APIBaseURL == "" {
		fe.Add(f+".api_credentials", "needs api_base_url: credentials are put on calls under it")
	}
	if c.APICredentials != nil {
		for h := range c.APICredentials.Headers {
			if !validHeaderName(h) {
				fe.Add(f+".api_credentials.headers."+h, "is not a valid header name")
			}
		}
	}
	if c.VerifyAPI != "" {
		api, ok := a.API(c.VerifyAPI)
		switch {
		case !ok:
			fe.Add(f+".verify_api", "names no API of the app: declare it under apis")
		case api.OAuthConfig != "" && api.OAuthConfig != c.Name:
			fe.Add(f+".verify_api", "API %q calls with config %q, not %q", api.Name, api.OAuthConfig, c.Name)
		case api.OAuthConfig == "" && len(a.OAuthConfigs) > 1:
			fe.Add(f+".verify_api", "API %q must name its oauth_config: the app has several", api.Name)
		default:
			for _, p := range api.Params {
				if p.Required {
					fe.Add(f+".verify_api", "API %q needs parameter %q; a check is called with none", api.Name, p.Name)
				}
			}
		}
	}
	p := c.APICalls
	if p == nil {
		return
	}
	for i, st := range p.TokenExpiredStatuses {
		if st < 100 || st > 599 {
			fe.Add(fmt.Sprintf("%s.api_calls.token_expired_statuses[%d]", f, i), "must be an HTTP status (100 to 599)")
		}
	}
	for i, st := range p.RetryStatuses {
		if st < 400 || st > 599 {
			fe.Add(fmt.Sprintf("%s.api_calls.retry_statuses[%d]", f, i), "must be an HTTP error status (400 to 599)")
		}
	}
	if p.MaxRetries > 10 {
		fe.Add(f+".api_calls.max_retries", "must be at most 10")
	}
	if p.RateLimitResetHeader != "" && !validHeaderName(p.RateLimitResetHeader) {
		fe.Add(f+".api_calls.rate_limit_reset_header", "is not a valid header name")
	}
	switch p.RateLimitResetFormat {
	case "", ResetSeconds, ResetEpoch:
	default:
		fe.Add(f+".api_calls.rate_limit_reset_format", "must be %q or %q", ResetSeconds, ResetEpoch)
	}
	if p.RateLimitResetFormat != "" && p.RateLimitResetHeader == "" {
		fe.Add(f+".api_calls.rate_limit_reset_header", "is required with rate_limit_reset_format")
	}
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 §5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
