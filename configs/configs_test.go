package configs

import (
	"bufio"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/demoprovider"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// documents returns every embedded app document by path.
func documents(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for dir, fsys := range map[string]fs.FS{"providers": Providers, "apps": Apps} {
		names, err := fs.Glob(fsys, dir+"/*.yaml")
		if err != nil {
			tb.Fatal(err)
		}
		for _, n := range names {
			b, err := fs.ReadFile(fsys, n)
			if err != nil {
				tb.Fatal(err)
			}
			out[n] = b
		}
	}
	if len(out) < 6 {
		tb.Fatalf("documents: got %d, want at least 6", len(out))
	}
	return out
}

// parse reads a document as latchkey serve --apps does: its variable
// references expanded, here to their defaults.
func parse(tb testing.TB, name string, data []byte) latchkey.App {
	tb.Helper()
	data, err := latchkey.ExpandVariables(data, func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatalf("%s: ExpandVariables: %v", name, err)
	}
	app, err := latchkey.ParseApp(data)
	if err != nil {
		tb.Fatalf("%s: ParseApp: %v", name, err)
	}
	return app
}

// Every document parses, validates, and is named after its file. Provider
// documents leave out what the catalog fills in (pkg/catalog.Expand); their
// test is pkg/catalog's, which checks each one completed.
func TestEveryDocumentIsValid(t *testing.T) {
	for name, data := range documents(t) {
		if strings.HasPrefix(name, "providers/") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			app := parse(t, name, data)
			if err := app.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if want := strings.TrimSuffix(path.Base(name), ".yaml"); app.Name != want {
				t.Errorf("name: got %q, want %q (the file's name)", app.Name, want)
			}
			if len(app.OAuthConfigs) == 0 {
				t.Errorf("oauth_configs: got none, want at least one")
			}
		})
	}
}

// The files on disk are the embedded ones: nothing in the folders escapes
// the embed patterns.
func TestEmbedCoversTheFolders(t *testing.T) {
	docs := documents(t)
	for _, dir := range []string{"providers", "apps"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if _, ok := docs[dir+"/"+e.Name()]; !ok {
				t.Errorf("%s/%s: not embedded; documents must be .yaml files", dir, e.Name())
			}
		}
	}
}

var placeholderRE = regexp.MustCompile(`{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}`)

// builtins are the values the flow supplies to templates.
var builtins = map[string]bool{"auth_code": true, "code_verifier": true, "code_challenge": true,
	"state": true, "redirect_uri": true, "refresh_token": true, "scope": true}

// Every {{name}} in a template names a setting, a config value or a value the
// flow supplies, so that no document fails when a flow runs.
func TestTemplatesNameKnownValues(t *testing.T) {
	for name, data := range documents(t) {
		if strings.HasPrefix(name, "providers/") {
			continue // pkg/catalog compiles each completed entry, which checks its names
		}
		app := parse(t, name, data)
		for _, c := range app.OAuthConfigs {
			known := map[string]bool{}
			for _, s := range app.Settings {
				known[s.Name] = true
			}
			for k := range c.Values {
				known[k] = true
			}
			fields := map[string]string{"link_url": c.LinkURL, "token_url": c.TokenURL, "refresh_token_url": c.RefreshTokenURL,
				"revocation_url": c.RevocationURL, "request_body": c.RequestBody, "refresh_token_body": c.RefreshTokenBody,
				"client_id": c.ClientID, "client_secret": c.ClientSecret}
			for k, v := range c.AuthParams {
				fields["auth_params."+k] = v
			}
			for k, v := range c.TokenHeaders {
				fields["token_headers."+k] = v
			}
			for f, src := range fields {
				for _, m := range placeholderRE.FindAllStringSubmatch(src, -1) {
					if !known[m[1]] && !builtins[m[1]] {
						t.Errorf("%s: %s.%s: {{%s}} names no setting, value or built-in", name, c.Name, f, m[1])
					}
				}
			}
		}
		for _, api := range app.APIs {
			srcs := []string{api.URL, api.Body}
			for _, h := range api.Headers {
				srcs = append(srcs, h)
			}
			for _, src := range srcs {
				for _, m := range placeholderRE.FindAllStringSubmatch(src, -1) {
					if _, ok := app.Setting(m[1]); !ok {
						t.Errorf("%s: apis.%s: {{%s}} names no setting", name, api.Name, m[1])
					}
				}
			}
		}
	}
}

// Seed 002's walkthrough keeps the seed's bodies character for character.
func TestExample002IsTheSeed(t *testing.T) {
	app := parse(t, "example-002", documents(t)["providers/example-002.yaml"])
	c, ok := app.OAuthConfig("example")
	if !ok {
		t.Fatal("oauth config \"example\": missing")
	}
	const body = `{"grant_type":  "authorization_code", "redirect_uri": "https://auth.capacity.com/v1/dev_oauth/callback", "code": "{{auth_code}}", "client_id": {{client_id}}, "client_secret": {{client_secret}}}`
	const refresh = `{"refresh_token": {{refresh_token}}, "grant_type": "refresh_token"}`
	if c.RequestBody != body {
		t.Errorf("request_body: got %s, want the seed's %s", c.RequestBody, body)
	}
	if c.RefreshTokenBody != refresh {
		t.Errorf("refresh_token_body: got %s, want the seed's %s", c.RefreshTokenBody, refresh)
	}
	levels := map[string]latchkey.Level{}
	for _, s := range app.Settings {
		levels[s.Name] = s.Level
	}
	for n, want := range map[string]latchkey.Level{"client_id": latchkey.LevelOrg, "client_secret": latchkey.LevelOrg,
		"redirect_uri": latchkey.LevelOrg, "access_token": latchkey.LevelUser, "refresh_token": latchkey.LevelUser} {
		if levels[n] != want {
			t.Errorf("setting %s: got level %q, want %q", n, levels[n], want)
		}
	}
}

// Provider quirks are in the documents, not in code.
func TestProviderQuirks(t *testing.T) {
	docs := documents(t)
	cfg := func(file, config string) *latchkey.OAuthConfig {
		t.Helper()
		app := parse(t, file, docs[file])
		c, ok := app.OAuthConfig(config)
		if !ok {
			t.Fatalf("%s: no oauth config %q", file, config)
		}
		return c
	}
	slack := cfg("providers/slack.yaml", "bot")
	if slack.Auth() != latchkey.ClientAuthBasic || slack.SuccessCondition != "$.ok" || !slack.PKCEEnabled() || slack.ScopeSeparator != "," {
		t.Errorf("slack bot: got auth %s, success %q, pkce %t, separator %q; want basic, $.ok, true, \",\"",
			slack.Auth(), slack.SuccessCondition, slack.PKCEEnabled(), slack.ScopeSeparator)
	}
	if u := cfg("providers/slack.yaml", "user"); u.ExtractionPathAccessToken != "$.authed_user.access_token" {
		t.Errorf("slack user: access token path: got %q, want $.authed_user.access_token", u.ExtractionPathAccessToken)
	}
	slingr := cfg("providers/slingr.yaml", "slingr")
	if slingr.Encoding() != latchkey.EncodingQuery || !strings.Contains(slingr.RefreshTokenBody, `"code": {{refresh_token}}`) ||
		!strings.HasPrefix(slingr.TokenURL, "https://{{app_name}}.slingrs.io/{{env}}/runtime/") {
		t.Errorf("slingr: got encoding %s, refresh body %s, token URL %s; want query, the refresh token as code, the templated host",
			slingr.Encoding(), slingr.RefreshTokenBody, slingr.TokenURL)
	}
	if gh := cfg("providers/github.yaml", "github"); gh.TokenHeaders["Accept"] != "application/json" {
		t.Errorf("github: Accept: got %q, want application/json", gh.TokenHeaders["Accept"])
	}
}

// The demo app uses the demo provider's quickstart client, on 127.0.0.1:9090
// unless LATCHKEY_DEMO_PROVIDER_URL says otherwise.
func TestDemoAppMatchesDemoProvider(t *testing.T) {
	app := parse(t, "demo", documents(t)["apps/demo.yaml"])
	c, ok := app.OAuthConfig("demo")
	if !ok {
		t.Fatal("apps/demo.yaml: no oauth config \"demo\"")
	}
	if c.Values["client_id"] != demoprovider.QuickstartClientID || c.Values["client_secret"] != demoprovider.QuickstartClientSecret {
		t.Errorf("values: got client %q, want the quickstart client %q", c.Values["client_id"], demoprovider.QuickstartClientID)
	}
	for _, u := range []string{c.LinkURL, c.TokenURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:9090/") {
			t.Errorf("URL %s: want it on http://127.0.0.1:9090", u)
		}
	}
	elsewhere := map[string]string{"LATCHKEY_DEMO_PROVIDER_URL": "http://127.0.0.1:9191", "LATCHKEY_PUBLIC_URL": "http://127.0.0.1:8181"}
	data, err := latchkey.ExpandVariables(documents(t)["apps/demo.yaml"], func(n string) (string, bool) { v, ok := elsewhere[n]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && (strings.Contains(line, ":9090") || strings.Contains(line, ":8080")) {
			t.Errorf("on other ports: line %d: got a default address left: %s", i+1, line)
		}
	}
}

// The example environment lists every server variable and holds no value
// that looks like a real secret.
func TestExampleEnv(t *testing.T) {
	f, err := os.Open("latchkey.example.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("line %q: want NAME=value", line)
		}
		vars[k] = v
	}
	for _, k := range []string{"LATCHKEY_ADDR", "LATCHKEY_DATA_DIR", "LATCHKEY_PUBLIC_URL", "LATCHKEY_DATABASE_URL",
		"LATCHKEY_ADMIN_API_KEY", "LATCHKEY_ENCRYPTION_KEY"} {
		if _, ok := vars[k]; !ok {
			t.Errorf("%s: missing", k)
		}
	}
	for _, k := range []string{"LATCHKEY_ADMIN_API_KEY", "LATCHKEY_ENCRYPTION_KEY"} {
		if vars[k] != "" {
			t.Errorf("%s: got a value, want it empty in the example", k)
		}
	}
}
