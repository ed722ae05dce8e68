package latchkey

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Level says who fills a setting in.
type Level string

// Setting levels (seed 002: "organization level settings are prompted to be
// populated when the app is installed … user level settings are populated
// when the user interacts with the app").
const (
	LevelOrg  Level = "org"
	LevelUser Level = "user"
)

// App is the document an admin declares: the settings its APIs and OAuth
// configs use, the OAuth configs, and the APIs. It is saved whole or not at
// all.
type App struct {
	// Name identifies the app in URLs: 1 to 63 lower-case letters, digits,
	// '-' or '_', starting with a letter or digit (NameRule).
	Name string `json:"name" yaml:"name"`
	// Label is the app's name as people read it, in the UI and on the pages
	// users see.
	Label string `json:"label,omitempty" yaml:"label,omitempty"`
	// Description says what the app is for, in the UI.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// AllowedReturnURLs are the prefixes a link's return_to may start with;
	// Latchkey redirects to no other address after a callback.
	AllowedReturnURLs []string `json:"allowed_return_urls,omitempty" yaml:"allowed_return_urls,omitempty"`
	// Settings declare the named values that templates use, filled in at
	// org or user level.
	Settings []Setting `json:"settings,omitempty" yaml:"settings,omitempty"`
	// OAuthConfigs are the app's OAuth 2 flows, one per provider.
	OAuthConfigs []OAuthConfig `json:"oauth_configs,omitempty" yaml:"oauth_configs,omitempty"`
	// APIs are the calls to providers that Latchkey makes for the app's
	// backend (POST …/apis/{api}).
	APIs []API `json:"apis,omitempty" yaml:"apis,omitempty"`
	// Catalog describes a provider document of the catalog (configs/providers):
	// its category and where its facts come from. Apps made from an entry
	// keep it.
	Catalog *CatalogInfo `json:"catalog,omitempty" yaml:"catalog,omitempty"`

	// CallbackURL is read-only: the redirect URI to register at the
	// providers, set in the API's answers and never stored (a PUT that
	// carries it back has it dropped).
	CallbackURL string `json:"callback_url,omitempty" yaml:"callback_url,omitempty"`

	// Revision counts the saves of the document; it is set by the store.
	Revision  int64     `json:"revision,omitempty" yaml:"-"`
	CreatedAt time.Time `json:"created_at,omitzero" yaml:"-"`
	UpdatedAt time.Time `json:"updated_at,omitzero" yaml:"-"`
}

// Setting declares one named value of an app, filled in at org or user level.
type Setting struct {
	// Name is how templates name the value ({{client_id}}): an identifier
	// of at most 63 characters (SettingNameRule).
	Name string `json:"name" yaml:"name"`
	// Level is org (filled when an org installs the app) or user (filled
	// when a user connects, such as a token).
	Level Level `json:"level" yaml:"level"`
	// Secret values are encrypted like all values, and redacted as
	// ******** in listings and exports.
	Secret bool `json:"secret,omitempty" yaml:"secret,omitempty"`
	// Required org settings must be given when an org installs the app.
	Required bool `json:"required,omitempty" yaml:"required,omitempty"`
	// Description says what the value is, on the install prompt and in
	// the UI.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Default is the value used when neither the user, the org nor the
	// config gives one.
	Default string `json:"default,omitempty" yaml:"default,omitempty"`
}

// API is a request to the provider that an app's endpoints make; its URL,
// headers and body are templates over the app's settings
// (Authorization: Bearer {{access_token}}).
//
// A URL that is a path starting with '/' is joined to the API base URL of
// the OAuth config (OAuthConfig.APIBaseURL) and carries that config's
// APICredentials; an absolute URL is sent as declared.
type API struct {
	// Name identifies the API in URLs, as App.Name does.
	Name string `json:"name" yaml:"name"`
	// Description says what the API does, in the UI.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// OAuthConfig names the OAuth config whose connection supplies the
	// user-level values; empty means the app's only config.
	OAuthConfig string `json:"oauth_config,omitempty" yaml:"oauth_config,omitempty"`
	// Method is GET (the default), POST, PUT, PATCH, DELETE or HEAD.
	Method string `json:"method,omitempty" yaml:"method,omitempty"`
	// URL is a template: a path joined to the config's api_base_url, or an
	// absolute URL sent as declared.
	URL string `json:"url" yaml:"url"`
	// Headers are request headers (templates); with a path URL the
	// config's api_credentials are added to them.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// Query are query parameters (templates) added to the URL.
	Query map[string]string `json:"query,omitempty" yaml:"query,omitempty"`
	// Body is the request body, a template.
	Body string `json:"body,omitempty" yaml:"body,omitempty"`
	// Params are the values the caller of the API supplies; templates use
	// them under a name of their own, so that a parameter never stands in
	// for a setting.
	Params []APIParam `json:"params,omitempty" yaml:"params,omitempty"`
}

// APIParam declares a value the caller of an API supplies.
type APIParam struct {
	// Name is how the caller names the parameter in the JSON body and
	// templates read it: {{param "id"}}.
	Name string `json:"name" yaml:"name"`
	// Required parameters must be given; a call without one is a 422.
	Required bool `json:"required,omitempty" yaml:"required,omitempty"`
	// Description says what the caller gives, in the UI.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// Setting returns the app's setting called name.
func (a *App) Setting(name string) (Setting, bool) {
	for _, s := range a.Settings {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// OAuthConfig returns the app's OAuth config called name.
func (a *App) OAuthConfig(name string) (*OAuthConfig, bool) {
	for i := range a.OAuthConfigs {
		if a.OAuthConfigs[i].Name == name {
			return &a.OAuthConfigs[i], true
		}
	}
	return nil, false
}

// API returns the app's API called name.
func (a *App) API(name string) (*API, bool) {
	for i := range a.APIs {
		if a.APIs[i].Name == name {
			return &a.APIs[i], true
		}
	}
	return nil, false
}

// APIConfig returns the name of the OAuth config whose connection an API
// calls with: its oauth_config, or the app's only config.
func (a *App) APIConfig(api *API) string {
	if api.OAuthConfig == "" && len(a.OAuthConfigs) == 1 {
		return a.OAuthConfigs[0].Name
	}
	return api.OAuthConfig
}

// IsSecret reports whether the setting called name holds a secret. Values
// that OAuth configs store as tokens are secret whatever their declaration.
func (a *App) IsSecret(name string) bool {
	if s, ok := a.Setting(name); ok && s.Secret {
		return true
	}
	for _, c := range a.OAuthConfigs {
		if name == c.AccessTokenVariableName || name == c.RefreshTokenVariableName {
			return true
		}
	}
	return false
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
var settingNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ValidName reports whether s may name an app, an OAuth config or an API:
// lower-case letters, digits, '-' and '_', at most 63 characters (NameRule).
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ValidSettingName reports whether s may name a setting: an identifier that
// templates can use bare ({{client_id}}), so neither a keyword or constant
// of text/template nor a name starting with ReservedSettingPrefix
// (SettingNameRule).
func ValidSettingName(s string) bool {
	return settingNameRE.MatchString(s) && !reservedSettingNames[s] && !strings.HasPrefix(s, ReservedSettingPrefix)
}

// Validate checks the document's structure: names, levels, duplicate names,
// absolute http(s) URLs where a URL is fixed, and that the variable names of
// every OAuth config name defined user-level settings. Templates and
// extraction paths are compiled by the flow engine.
func (a *App) Validate() error {
	var fe FieldErrors
	CheckStrings(a, "", &fe)
	if !ValidName(a.Name) {
		fe.Add("name", NameRule)
	}
	for i, u := range a.AllowedReturnURLs {
		if err := CheckAbsoluteURL(u); err != nil {
			fe.Add(fmt.Sprintf("allowed_return_urls[%d]", i), "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, s := range a.Settings {
		f := fmt.Sprintf("settings[%d]", i)
		switch {
		case !ValidSettingName(s.Name):
			fe.Add(f+".name", SettingNameRule)
		case seen[s.Name]:
			fe.Add(f+".name", "duplicate setting %q", s.Name)
		case Builtin(s.Name) && s.Name != "redirect_uri":
			fe.Add(f+".name", "%q is set by Latchkey during a flow and cannot be a setting", s.Name)
		}
		seen[s.Name] = true
		if s.Level != LevelOrg && s.Level != LevelUser {
			fe.Add(f+".level", "must be %q or %q", LevelOrg, LevelUser)
		}
	}
	seen = map[string]bool{}
	for i := range a.OAuthConfigs {
		c := &a.OAuthConfigs[i]
		f := fmt.Sprintf("oauth_configs[%d]", i)
		if seen[c.Name] {
			fe.Add(f+".name", "duplicate OAuth config %q", c.Name)
		}
		seen[c.Name] = true
		c.validate(a, f, &fe)
	}
	seen = map[string]bool{}
	for i, api := range a.APIs {
		f := fmt.Sprintf("apis[%d]", i)
		if !ValidName(api.Name) {
			fe.Add(f+".name", "must be 1 to 63 lower-case letters, digits, '-' or '_'")
		} else if seen[api.Name] {
			fe.Add(f+".name", "duplicate API %q", api.Name)
		}
		seen[api.Name] = true
		switch strings.ToUpper(api.Method) {
		case "", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
		default:
			fe.Add(f+".method", "must be GET, POST, PUT, PATCH, DELETE or HEAD")
		}
		if strings.TrimSpace(api.URL) == "" {
			fe.Add(f+".url", "is required")
		}
		if api.OAuthConfig != "" {
			cfg, ok := a.OAuthConfig(api.OAuthConfig)
			if !ok {
				fe.Add(f+".oauth_config", "names no OAuth config of the app")
			} else if strings.HasPrefix(api.URL, "/") && cfg.APIBaseURL == "" {
				fe.Add(f+".url", "is a path, and config %q declares no api_base_url to join it to", cfg.Name)
			}
		} else if strings.HasPrefix(api.URL, "/") && (len(a.OAuthConfigs) != 1 || a.OAuthConfigs[0].APIBaseURL == "") {
			fe.Add(f+".url", "is a path: name the oauth_config whose api_base_url it joins")
		}
		params := map[string]bool{}
		for j, p := range api.Params {
			pf := fmt.Sprintf("%s.params[%d].name", f, j)
			switch {
			case !ValidSettingName(p.Name):
				fe.Add(pf, "must be an identifier (letters, digits, '_'), at most 63 characters")
			case params[p.Name]:
				fe.Add(pf, "duplicate parameter %q", p.Name)
			}
			params[p.Name] = true
		}
	}
	return fe.Err("the app document is invalid")
}

// CheckAbsoluteURL returns an error unless s is an absolute http or https URL
// with a host and no user info.
func CheckAbsoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an absolute http or https URL")
	}
	if u.Host == "" {
		return fmt.Errorf("must have a host")
	}
	if u.User != nil {
		return fmt.Errorf("must not hold user info")
	}
	return nil
}

// Builtin reports whether name is a value Latchkey provides to templates
// during a flow, rather than a setting.
func Builtin(name string) bool {
	switch name {
	case "auth_code", "code_verifier", "code_challenge", "state", "redirect_uri", "scope":
		return true
	}
	return false
}
