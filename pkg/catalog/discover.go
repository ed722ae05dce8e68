package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Metadata is what an authorization server publishes about itself: OpenID
// Connect Discovery 1.0 §3 and RFC 8414 §2 (the fields a document needs).
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	ServiceDocumentation              string   `json:"service_documentation,omitempty"`
}

// maxMetadata caps the metadata document read.
const maxMetadata = 1 << 20

// Discover reads the metadata of the authorization server at issuer, from
// /.well-known/openid-configuration (OpenID Connect Discovery 1.0 §4) or,
// when there is none, /.well-known/oauth-authorization-server (RFC 8414
// §3), checks that it names the same issuer (§4.3, RFC 8414 §3.3), and
// returns it. client makes the requests; it must guard against requests to
// internal addresses when issuer comes from a caller.
func Discover(ctx context.Context, client *http.Client, issuer string) (Metadata, error) {
	issuer = strings.TrimSuffix(strings.TrimSpace(issuer), "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Metadata{}, &latchkey.Error{Code: latchkey.EINVALID, Message: "the issuer is not an http(s) URL without query or fragment",
			Fields: []latchkey.FieldError{{Field: "issuer", Message: "must be an absolute https URL, such as https://accounts.example.com"}}}
	}
	// RFC 8414 §3.1: the well-known segment goes between the host and the
	// issuer's path.
	rfc8414 := u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + u.Path
	var tried []string
	for _, where := range []string{issuer + "/.well-known/openid-configuration", rfc8414} {
		md, found, err := fetchMetadata(ctx, client, where)
		if err != nil {
			return Metadata{}, err
		}
		tried = append(tried, where)
		if !found {
			continue
		}
		if strings.TrimSuffix(md.Issuer, "/") != issuer {
			return Metadata{}, latchkey.Errorf(latchkey.EPROVIDER, "the metadata at %s names the issuer %q, not %q", where, md.Issuer, issuer)
		}
		if md.AuthorizationEndpoint == "" && md.TokenEndpoint == "" {
			return Metadata{}, latchkey.Errorf(latchkey.EPROVIDER, "the metadata at %s names no authorization or token endpoint", where)
		}
		return md, nil
	}
	return Metadata{}, latchkey.Errorf(latchkey.ENOTFOUND, "no authorization server metadata at %s", strings.Join(tried, " or "))
}

func fetchMetadata(ctx context.Context, client *http.Client, where string) (Metadata, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return Metadata{}, false, latchkey.WrapError(latchkey.EINVALID, err, "cannot ask %s", where)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Metadata{}, false, &latchkey.Error{Code: latchkey.EPROVIDER, Err: err, Message: "the issuer at " + req.URL.Host + " could not be reached"}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return Metadata{}, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return Metadata{}, false, &latchkey.Error{Code: latchkey.EPROVIDER, Message: fmt.Sprintf("%s answered HTTP %d", where, resp.StatusCode),
			Provider: &latchkey.ProviderError{Status: resp.StatusCode}}
	}
	var md Metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadata)).Decode(&md); err != nil {
		return Metadata{}, false, latchkey.WrapError(latchkey.EPROVIDER, err, "the metadata at %s is not a JSON object", where)
	}
	return md, true, nil
}

var nonNameRE = regexp.MustCompile(`[^a-z0-9]+`)

// Document turns metadata into a catalog document named name (from the
// issuer's host when empty): an authorization code config with the
// metadata's endpoints, the client authentication it prefers
// (client_secret_basic, then client_secret_post, then none, from
// token_endpoint_auth_methods_supported; OpenID Connect Discovery §3 makes
// client_secret_basic the default), PKCE when S256 is among
// code_challenge_methods_supported (RFC 8414 §2), revocation when it has a
// revocation endpoint (RFC 7009), the OpenID scopes it supports, and its
// userinfo endpoint as the verification call; and a client credentials
// config when grant_types_supported lists that grant. The document is
// completed and compiled as a catalog entry would be.
func (md Metadata) Document(name string) (latchkey.App, error) {
	u, err := url.Parse(md.Issuer)
	if err != nil || u.Host == "" {
		return latchkey.App{}, latchkey.Errorf(latchkey.EINVALID, "the metadata's issuer %q is not a URL", md.Issuer)
	}
	if name == "" {
		name = strings.Trim(nonNameRE.ReplaceAllString(strings.ToLower(u.Hostname()), "-"), "-")
		if len(name) > 50 {
			name = name[:50]
		}
	}
	docs := md.ServiceDocumentation
	if docs == "" {
		docs = strings.TrimSuffix(md.Issuer, "/") + "/.well-known/openid-configuration"
	}
	app := latchkey.App{Name: name, Label: u.Host, Description: "Generated from the authorization server metadata of " + md.Issuer + ".",
		Catalog: &latchkey.CatalogInfo{Category: "identity", DocsURL: docs}}

	auth := latchkey.ClientAuthBasic
	if methods := md.TokenEndpointAuthMethodsSupported; len(methods) > 0 {
		switch {
		case slices.Contains(methods, "client_secret_basic"):
		case slices.Contains(methods, "client_secret_post"):
			auth = latchkey.ClientAuthBody
		case slices.Contains(methods, "none"):
			auth = latchkey.ClientAuthNone
		default:
			return latchkey.App{}, latchkey.Errorf(latchkey.EINVALID,
				"the token endpoint accepts only %s, none of which Latchkey speaks (client_secret_basic, client_secret_post, none)", strings.Join(methods, ", "))
		}
	}
	pkce := slices.Contains(md.CodeChallengeMethodsSupported, "S256")
	var scopes []string
	for _, s := range []string{"openid", "profile", "email", "offline_access"} {
		if len(md.ScopesSupported) == 0 && s != "offline_access" || slices.Contains(md.ScopesSupported, s) {
			scopes = append(scopes, s)
		}
	}
	base, verify := "", ""
	if md.UserinfoEndpoint != "" {
		if uu, err := url.Parse(md.UserinfoEndpoint); err == nil {
			i := strings.LastIndex(uu.Path, "/")
			base = uu.Scheme + "://" + uu.Host + uu.Path[:max(i, 0)]
			verify = uu.Path[max(i, 0):]
		}
	}
	grants := md.GrantTypesSupported
	if len(grants) == 0 {
		grants = []string{"authorization_code"} // RFC 8414 §2's default (with implicit)
	}
	if slices.Contains(grants, "authorization_code") && md.AuthorizationEndpoint != "" {
		c := latchkey.OAuthConfig{Name: "oidc", LinkURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint,
			RevocationURL: md.RevocationEndpoint, Scopes: scopes, PKCE: &pkce}
		if auth != latchkey.ClientAuthBody {
			c.ClientAuth = auth
		}
		if !slices.Contains(scopes, "offline_access") {
			// Without offline_access the provider may still issue refresh tokens.
			c.Description = "offline_access is not among the scopes the provider lists"
		}
		if verify != "" {
			c.APIBaseURL, c.VerifyAPI = base, "userinfo"
			app.APIs = append(app.APIs, latchkey.API{Name: "userinfo", OAuthConfig: "oidc", URL: verify})
		}
		app.OAuthConfigs = append(app.OAuthConfigs, c)
	}
	if slices.Contains(grants, "client_credentials") {
		c := latchkey.OAuthConfig{Name: "client-credentials", Label: u.Host + " (client credentials)", GrantType: latchkey.GrantClientCredentials,
			TokenURL: md.TokenEndpoint}
		if auth != latchkey.ClientAuthBody {
			c.ClientAuth = auth
		}
		app.OAuthConfigs = append(app.OAuthConfigs, c)
	}
	if len(app.OAuthConfigs) == 0 {
		return latchkey.App{}, latchkey.Errorf(latchkey.EINVALID, "the authorization server offers neither the authorization code nor the client credentials grant")
	}
	app = Expand(app)
	if _, err := flow.Compile(app); err != nil {
		return latchkey.App{}, err
	}
	return app, nil
}
