package latchkey

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Latchkey is also an OAuth 2 authorization server for its own API (seed
// 000): per environment, an admin turns OAuth support on, declares groups
// of permissions and the scopes that grant them, and registers OAuth apps
// (clients). A person (an admin account of the builder UI) authorizes an
// OAuth app for some scopes; the app's tokens then carry the permissions of
// those scopes' groups on /api/v1.

// Permission is a right over Latchkey's API. Every /api/v1 route needs one
// (the HTTP API's route table); a token has those of its scopes' groups.
type Permission string

// The permissions, the vocabulary groups are written in.
const (
	PermAppsRead         Permission = "apps:read"          // read app documents, the catalog, the playground
	PermAppsWrite        Permission = "apps:write"         // create, replace, promote and delete apps
	PermOrgsRead         Permission = "orgs:read"          // read org installations and their settings (redacted)
	PermOrgsWrite        Permission = "orgs:write"         // fill in and delete org installations
	PermConnectionsRead  Permission = "connections:read"   // list and read connections, without tokens
	PermConnectionsWrite Permission = "connections:write"  // disconnect, refresh and verify connections
	PermTokensRead       Permission = "tokens:read"        // read a connection's access token
	PermLinksCreate      Permission = "links:create"       // create connect links and install links
	PermAPIsCall         Permission = "apis:call"          // call declared APIs and the passthrough proxy
	PermWebhooksRead     Permission = "webhooks:read"      // list webhooks and their deliveries
	PermWebhooksWrite    Permission = "webhooks:write"     // create and delete webhooks
	PermAuditRead        Permission = "audit:read"         // read the audit log
	PermKeysManage       Permission = "keys:manage"        // create, list and revoke API keys
	PermEnvironments     Permission = "environments:write" // create, change and delete environments
	PermOAuthManage      Permission = "oauth:manage"       // the OAuth server's settings, scopes, groups, apps and authorizations
	PermSession          Permission = "session"            // a signed-in person's own session (never granted to a token)
	// PermAdminsManage is adding, deleting and re-passwording the builder
	// UI's admin accounts. It is never granted to a token (no group may
	// hold it): an admin account has every permission, so a token that
	// could make one would reach past its scopes.
	PermAdminsManage Permission = "admins:manage"
)

// Permissions lists every permission a group may hold, with what it allows.
var Permissions = []struct {
	Name        Permission `json:"name"`
	Description string     `json:"description"`
	// AppScoped permissions can be limited to named apps (OAuthGroup.Apps).
	AppScoped bool `json:"app_scoped"`
}{
	{PermAppsRead, "Read app documents, the provider catalog and the playground", true},
	{PermAppsWrite, "Create, replace, promote and delete apps", true},
	{PermOrgsRead, "Read org installations and their settings, secrets redacted", true},
	{PermOrgsWrite, "Fill in and delete org installations", true},
	{PermConnectionsRead, "List and read connections, without their tokens", true},
	{PermConnectionsWrite, "Disconnect, refresh and verify connections", true},
	{PermTokensRead, "Read a connection's access token", true},
	{PermLinksCreate, "Create connect links and install links", true},
	{PermAPIsCall, "Call declared APIs and the passthrough proxy", true},
	{PermWebhooksRead, "List webhooks and their deliveries", true},
	{PermWebhooksWrite, "Create and delete webhooks", true},
	{PermAuditRead, "Read the audit log", false},
	{PermKeysManage, "Create, list and revoke API keys", false},
	{PermEnvironments, "Create, change and delete environments", false},
	{PermOAuthManage, "Manage the OAuth server: settings, scopes, groups, OAuth apps and authorizations", false},
}

// Known reports whether p is a permission a group may hold.
func (p Permission) Known() bool { return p.info() >= 0 }

// AppScoped reports whether p can be limited to named apps.
func (p Permission) AppScoped() bool {
	i := p.info()
	return i >= 0 && Permissions[i].AppScoped
}

func (p Permission) info() int {
	for i, q := range Permissions {
		if q.Name == p {
			return i
		}
	}
	return -1
}

// DefaultAccessTokenTTL is how long an access token of Latchkey's OAuth
// server lives unless the environment says otherwise (the seed's 28800 s).
const DefaultAccessTokenTTL = 8 * time.Hour

// DefaultRefreshTokenTTL is how long a refresh token lives unless the
// environment says otherwise; each refresh issues a new one.
const DefaultRefreshTokenTTL = 30 * 24 * time.Hour

// AuthorizationCodeTTL is how long an authorization code lives (the seed:
// 60 seconds); it is used once.
const AuthorizationCodeTTL = 60 * time.Second

// OAuthServer is an environment's OAuth server settings.
type OAuthServer struct {
	// Enabled turns OAuth support on; while it is off the token endpoint
	// answers "OAuth is not enabled" and the authorization page refuses.
	Enabled         bool      `json:"enabled"`
	AccessTokenTTL  Duration  `json:"access_token_ttl"`
	RefreshTokenTTL Duration  `json:"refresh_token_ttl"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
}

// WithDefaults fills the lifetimes an environment leaves unset.
func (o OAuthServer) WithDefaults() OAuthServer {
	if o.AccessTokenTTL == 0 {
		o.AccessTokenTTL = Duration(DefaultAccessTokenTTL)
	}
	if o.RefreshTokenTTL == 0 {
		o.RefreshTokenTTL = Duration(DefaultRefreshTokenTTL)
	}
	return o
}

// Validate checks the settings.
func (o OAuthServer) Validate() error {
	var fe FieldErrors
	if d := time.Duration(o.AccessTokenTTL); d != 0 && (d < time.Minute || d > 7*24*time.Hour) {
		fe.Add("access_token_ttl", "must be between 1m and 168h")
	}
	if d := time.Duration(o.RefreshTokenTTL); d != 0 && (d < time.Hour || d > 365*24*time.Hour) {
		fe.Add("refresh_token_ttl", "must be between 1h and 8760h")
	}
	if o.AccessTokenTTL != 0 && o.RefreshTokenTTL != 0 && o.RefreshTokenTTL <= o.AccessTokenTTL {
		fe.Add("refresh_token_ttl", "must be longer than access_token_ttl")
	}
	return fe.Err("the OAuth server settings are not valid")
}

// OAuthGroup is a named set of permissions, optionally limited to some
// apps: what a scope grants.
type OAuthGroup struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
	// Apps, when not empty, limits the group's app-scoped permissions to
	// these apps; its other permissions are not limited.
	Apps      []string  `json:"apps,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Validate checks a group.
func (g OAuthGroup) Validate() error {
	var fe FieldErrors
	if !ValidName(g.Name) {
		fe.Add("name", "must be lower-case letters, digits, '-' and '_', at most 63 characters")
	}
	checkDescription(&fe, "description", g.Description, 500)
	if len(g.Permissions) == 0 {
		fe.Add("permissions", "must name at least one permission")
	}
	for i, p := range g.Permissions {
		if !p.Known() {
			fe.Add(fmt.Sprintf("permissions[%d]", i), "%q is not a permission", p)
		} else if slices.Index(g.Permissions, p) != i {
			fe.Add(fmt.Sprintf("permissions[%d]", i), "%q is listed twice", p)
		}
	}
	for i, a := range g.Apps {
		if !ValidName(a) {
			fe.Add(fmt.Sprintf("apps[%d]", i), "is not an app name")
		}
	}
	return fe.Err(fmt.Sprintf("group %q is not valid", g.Name))
}

// Allows reports whether the group grants p, for app when p is app-scoped
// ("" asks about a route that names no app: then an app-limited group does
// not grant it).
func (g OAuthGroup) Allows(p Permission, app string) bool {
	if !slices.Contains(g.Permissions, p) {
		return false
	}
	if len(g.Apps) == 0 || !p.AppScoped() {
		return true
	}
	return app != "" && slices.Contains(g.Apps, app)
}

var scopeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9:._-]{0,62}$`)

// ValidScopeName reports whether s may name an OAuth scope: lower-case
// letters, digits, ':', '.', '-' and '_', at most 63 characters (a subset of
// RFC 6749 §3.3's scope-token).
func ValidScopeName(s string) bool { return scopeNameRE.MatchString(s) }

// OAuthScope is a scope an OAuth app may ask for: its description is shown
// on the authorization page, and a token with it has its groups' rights.
type OAuthScope struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Groups      []string  `json:"groups"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// MaxScopeDescription is the longest scope description, in characters (the
// seed: "under 140 characters", as it is shown on the authorization page).
const MaxScopeDescription = 139

// Validate checks a scope.
func (s OAuthScope) Validate() error {
	var fe FieldErrors
	if !ValidScopeName(s.Name) {
		fe.Add("name", "must be lower-case letters, digits, ':', '.', '-' and '_', at most 63 characters")
	}
	if strings.TrimSpace(s.Description) == "" {
		fe.Add("description", "is required: it is shown on the authorization page")
	} else {
		checkDescription(&fe, "description", s.Description, MaxScopeDescription)
	}
	if len(s.Groups) == 0 {
		fe.Add("groups", "must name at least one group")
	}
	checkNames(&fe, "groups", s.Groups, ValidName, "is not a group name")
	return fe.Err(fmt.Sprintf("scope %q is not valid", s.Name))
}

// checkNames records, as field[i], each name of names that valid refuses
// and each one listed twice.
func checkNames(fe *FieldErrors, field string, names []string, valid func(string) bool, invalid string) {
	for i, n := range names {
		if !valid(n) {
			fe.Add(fmt.Sprintf("%s[%d]", field, i), "%s", invalid)
		} else if slices.Index(names, n) != i {
			fe.Add(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", n)
		}
	}
}

func checkDescription(fe *FieldErrors, field, s string, max int) {
	if n := utf8.RuneCountInString(s); n > max {
		fe.Add(field, "must be at most %d characters (it has %d)", max, n)
	} else if err := CheckLine(s); err != nil {
		fe.Add(field, "must be one line of text: it %v", err)
	}
}

// OAuthClient is an OAuth app registered with Latchkey's OAuth server (the
// seed's "OAuth App"), named OAuthClient here so as not to be confused with
// Latchkey's apps.
type OAuthClient struct {
	// Name and ClientID are unique in the environment; ClientID is random
	// (but for Latchkey's CLI, CLIClientID) and public.
	Name        string `json:"name"`
	ClientID    string `json:"client_id"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
	// RedirectURI is the authorization callback URL, matched exactly.
	RedirectURI string   `json:"redirect_uri"`
	Scopes      []string `json:"scopes"`
	// Public clients (a CLI, a single-page app) have no secret and must use
	// PKCE; confidential ones authenticate with their secret, stored hashed.
	Public     bool   `json:"public"`
	SecretHash []byte `json:"-"`
	// HasIcon says an icon was uploaded; the icon itself is read apart.
	HasIcon   bool      `json:"has_icon"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Validate checks an OAuth app's fields (not its scopes' existence, which
// the store checks).
func (c OAuthClient) Validate() error {
	var fe FieldErrors
	if !ValidName(c.Name) {
		fe.Add("name", "must be lower-case letters, digits, '-' and '_', at most 63 characters")
	}
	if strings.TrimSpace(c.Label) == "" {
		fe.Add("label", "is required: it is shown on the authorization page")
	} else {
		checkDescription(&fe, "label", c.Label, 80)
	}
	checkDescription(&fe, "description", c.Description, 500)
	if msg := checkRedirectURI(c.RedirectURI); msg != "" {
		fe.Add("redirect_uri", "%s", msg)
	}
	if len(c.Scopes) == 0 {
		fe.Add("scopes", "must name at least one scope")
	}
	checkNames(&fe, "scopes", c.Scopes, ValidScopeName, "is not a scope name")
	return fe.Err(fmt.Sprintf("OAuth app %q is not valid", c.Name))
}

// checkRedirectURI applies RFC 9700 §2.1 and RFC 8252: an absolute https
// URL without a fragment, or http on a loopback address (a native app's
// redirect, whose port may then vary, RFC 8252 §7.3).
func checkRedirectURI(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > 2000 || CheckLine(s) != nil {
		return "must be one URL of at most 2000 bytes"
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return "must be an absolute URL"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "must not have a fragment (RFC 6749 §3.1.2)"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "must name a host"
		}
	case "http":
		switch u.Hostname() {
		case "127.0.0.1", "::1", "localhost":
		default:
			return "must use https, unless it is a loopback address (RFC 8252 §7.3)"
		}
	default:
		// Private-use schemes (RFC 8252 §7.1) can be claimed by any app
		// on the device: a native app uses a loopback redirect instead.
		return "must use https, or http on a loopback address (RFC 8252 §7.3)"
	}
	return ""
}

// The OAuth app of Latchkey's own CLI (latchkey login), registered in an
// environment when OAuth is turned on there: a public app with a loopback
// redirect (RFC 8252), whose one scope's group holds every permission.
const (
	CLIClientID    = "latchkey-cli"
	CLIScope       = "latchkey-cli"
	CLIRedirectURI = "http://127.0.0.1/callback"
)

// OAuthAuthorization is a person's authorization of an OAuth app for some
// scopes: what the consent form records. While it lives, the app is not
// asked to be authorized again for those scopes; revoking it kills every
// token issued under it.
type OAuthAuthorization struct {
	ID         string     `json:"id"`
	ClientID   string     `json:"client_id"`
	ClientName string     `json:"client_name,omitempty"`
	Subject    string     `json:"subject"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Covers reports whether the authorization is live and grants every scope
// of scopes.
func (a OAuthAuthorization) Covers(scopes []string) bool {
	if a.RevokedAt != nil {
		return false
	}
	for _, s := range scopes {
		if !slices.Contains(a.Scopes, s) {
			return false
		}
	}
	return true
}
