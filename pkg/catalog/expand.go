package catalog

import (
	"encoding/json"
	"strings"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Expand fills in what a catalog document may leave out because nearly
// every provider shares it, so that an RFC 6749 provider's document holds
// only its own facts:
//
//   - the org-level settings client_id (required) and, unless every config
//     is a public client (client_auth: none), client_secret (required,
//     secret);
//   - for an authorization-code config that names no access token
//     variable, the access and refresh token variables access_token and
//     refresh_token, declared as secret user-level settings (a config that
//     names its access token variable and no refresh token variable is one
//     whose provider issues no refresh tokens); for a client-credentials
//     config, <config>_token at org level;
//   - each config's label (the app's) and logo (the catalog's).
//
// A document that declares any of these keeps its own. Expand returns a
// copy and leaves app unchanged.
func Expand(app latchkey.App) latchkey.App {
	app = copyApp(app)
	add := func(s latchkey.Setting) {
		if _, ok := app.Setting(s.Name); !ok {
			app.Settings = append(app.Settings, s)
		}
	}
	public := len(app.OAuthConfigs) > 0
	for _, c := range app.OAuthConfigs {
		if c.Auth() != latchkey.ClientAuthNone {
			public = false
		}
	}
	var head []latchkey.Setting
	if _, ok := app.Setting("client_id"); !ok {
		head = append(head, latchkey.Setting{Name: "client_id", Level: latchkey.LevelOrg, Required: true,
			Description: "The client id the provider issued to your OAuth app."})
	}
	if _, ok := app.Setting("client_secret"); !ok && !public {
		head = append(head, latchkey.Setting{Name: "client_secret", Level: latchkey.LevelOrg, Required: true, Secret: true,
			Description: "The client secret of your OAuth app."})
	}
	app.Settings = append(head, app.Settings...)
	for i := range app.OAuthConfigs {
		c := &app.OAuthConfigs[i]
		if c.Label == "" {
			c.Label = app.Label
		}
		if c.LogoURL == "" && app.Catalog != nil {
			c.LogoURL = app.Catalog.LogoURL
		}
		if c.Grant() == latchkey.GrantClientCredentials {
			if c.AccessTokenVariableName == "" {
				c.AccessTokenVariableName = strings.ReplaceAll(c.Name, "-", "_") + "_token"
				add(latchkey.Setting{Name: c.AccessTokenVariableName, Level: latchkey.LevelOrg, Secret: true,
					Description: "The org's access token of the " + c.Name + " config (client credentials)."})
			}
			continue
		}
		if c.AccessTokenVariableName != "" {
			// A config that names its access token variable names its
			// refresh token variable too, or issues no refresh tokens.
			for _, n := range []string{c.AccessTokenVariableName, c.RefreshTokenVariableName} {
				if n != "" {
					add(latchkey.Setting{Name: n, Level: latchkey.LevelUser, Secret: true})
				}
			}
			continue
		}
		c.AccessTokenVariableName = "access_token"
		add(latchkey.Setting{Name: "access_token", Level: latchkey.LevelUser, Secret: true})
		if c.RefreshTokenVariableName == "" {
			c.RefreshTokenVariableName = "refresh_token"
			add(latchkey.Setting{Name: "refresh_token", Level: latchkey.LevelUser, Secret: true})
		}
	}
	return app
}

// copyApp returns a deep copy of app.
func copyApp(app latchkey.App) latchkey.App {
	b, err := json.Marshal(app)
	if err != nil {
		panic("catalog: an app document does not marshal: " + err.Error())
	}
	var out latchkey.App
	if err := json.Unmarshal(b, &out); err != nil {
		panic("catalog: an app document does not unmarshal: " + err.Error())
	}
	return out
}
