package catalog

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

var placeholderRE = regexp.MustCompile(`{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}`)

// Quirks names, in a few words each, what an app's OAuth configs declare
// beyond RFC 6749's defaults: the facts a builder would otherwise read in
// the provider's documentation. They are derived from the document, never
// written by hand, so that docs/providers.md cannot drift from it.
func Quirks(app latchkey.App) []string {
	set := map[string]bool{}
	q := func(s string) { set[s] = true }
	for _, c := range app.OAuthConfigs {
		switch c.Auth() {
		case latchkey.ClientAuthBasic:
			q("Basic client auth")
		case latchkey.ClientAuthNone:
			q("public client")
		}
		switch c.Encoding() {
		case latchkey.EncodingJSON:
			q("JSON token requests")
		case latchkey.EncodingQuery:
			q("token parameters in the query")
		}
		switch c.ScopeSeparator {
		case ",":
			q("comma scopes")
		case "+":
			q("plus scopes")
		}
		if !c.PKCEEnabled() && c.Grant() == latchkey.GrantAuthorizationCode {
			q("no PKCE")
		}
		if c.SuccessCondition != "" {
			q("errors with HTTP 200")
		}
		if p := c.ExtractionPathAccessToken; p != "" && p != "$.access_token" {
			q("nested token")
		}
		if c.RefreshExtraction != nil {
			q("refresh answer shaped apart")
		}
		if strings.Contains(c.RefreshTokenBody, "{{scope}}") {
			q("scope sent on refresh")
		} else if c.RefreshTokenBody != "" {
			q("custom refresh body")
		}
		if c.RequestBody != "" {
			q("custom token body")
		}
		if c.Revocation != nil {
			q("non-RFC 7009 revocation")
		}
		if c.ExpiresInUnit != "" && c.ExpiresInUnit != "seconds" {
			q("expires_in in " + c.ExpiresInUnit)
		}
		if c.DefaultExpiresIn > 0 {
			q("known lifetime")
		}
		if c.ExtractionPathExpiresAt != "" {
			q("expires_at")
		}
		if c.APICredentials != nil && len(c.APICredentials.Query) > 0 {
			q("token in the API query")
		} else if c.APICredentials != nil && len(c.APICredentials.Headers) > 0 {
			q("API credential headers")
		}
		if len(c.TokenHeaders) > 0 {
			q("token request headers")
		}
		if len(c.Metadata) > 0 {
			q("metadata")
		}
		if c.Grant() == latchkey.GrantClientCredentials {
			q("client credentials")
		}
		if c.KeepAliveInterval > 0 {
			q("refresh tokens die unused")
		}
		for _, u := range []string{c.LinkURL, c.TokenURL, c.APIBaseURL} {
			for _, m := range placeholderRE.FindAllStringSubmatch(u, -1) {
				if !latchkey.Builtin(m[1]) && m[1] != "client_id" {
					q("per-org " + m[1])
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return slices.Compact(out)
}
