package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// latchkey login signs the CLI in through Latchkey's own OAuth server, as
// RFC 8252 says a native app does: the browser opens the authorization
// page, which sends the code back to a listener on a loopback port; PKCE
// binds the code to this process. The tokens are kept in the user's config
// folder (credentials.json, mode 0600) and refreshed as they expire; the
// CLI's commands that call the API then need no API key. latchkey logout
// revokes them (RFC 7009) and forgets them.

// savedLogin is one server and environment's tokens.
type savedLogin struct {
	Server        string    `json:"server"`
	Env           string    `json:"env"`
	ClientID      string    `json:"client_id"`
	TokenURL      string    `json:"token_url"`
	RevocationURL string    `json:"revocation_url"`
	AccessToken   string    `json:"access_token"`
	RefreshToken  string    `json:"refresh_token"`
	Expiry        time.Time `json:"expiry"`
}

// credentialsFile holds every saved login, by server and environment.
type credentialsFile struct {
	Logins map[string]savedLogin `json:"logins"`
}

// credentialsPath is where the CLI keeps its logins: LATCHKEY_CONFIG_DIR,
// or latchkey/ in the user's config folder.
func credentialsPath() (string, error) {
	dir := os.Getenv("LATCHKEY_CONFIG_DIR")
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("no folder to keep the login in (%v): set LATCHKEY_CONFIG_DIR", err)
		}
		dir = filepath.Join(base, "latchkey")
	}
	return filepath.Join(dir, "credentials.json"), nil
}

func loginKey(server, env string) string { return strings.TrimRight(server, "/") + " " + env }

func readCredentials() (credentialsFile, string, error) {
	path, err := credentialsPath()
	if err != nil {
		return credentialsFile{}, "", err
	}
	cf := credentialsFile{Logins: map[string]savedLogin{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cf, path, nil
	}
	if err != nil {
		return cf, path, err
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return cf, path, fmt.Errorf("%s is not a credentials file: %v", path, err)
	}
	if cf.Logins == nil {
		cf.Logins = map[string]savedLogin{}
	}
	return cf, path, nil
}

// writeCredentials replaces the file whole, readable by its owner only.
func writeCredentials(path string, cf credentialsFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// serverMetadata is what the CLI reads of an environment's RFC 8414
// metadata.
type serverMetadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
}

func fetchMetadata(ctx context.Context, hc *http.Client, server, env string) (serverMetadata, error) {
	u := strings.TrimRight(server, "/") + "/.well-known/oauth-authorization-server/" + url.PathEscape(env) + "/oauth"
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return serverMetadata{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return serverMetadata{}, fmt.Errorf("reaching %s: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return serverMetadata{}, fmt.Errorf("environment %q of %s has no OAuth server: an admin turns OAuth on (PUT /api/v1/oauth/server), or set LATCHKEY_API_KEY", env, server)
	}
	if resp.StatusCode != http.StatusOK {
		return serverMetadata{}, fmt.Errorf("reading %s: HTTP %d", u, resp.StatusCode)
	}
	var m serverMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil || m.TokenEndpoint == "" || m.AuthorizationEndpoint == "" {
		return serverMetadata{}, fmt.Errorf("%s is not an authorization server's metadata", u)
	}
	return m, nil
}

func randomString() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// callbackResult is what the loopback listener heard.
type callbackResult struct {
	code string
	err  error
}

func runLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("LATCHKEY_URL", "http://127.0.0.1:8080"), "Latchkey's URL (LATCHKEY_URL)")
	env := envFlag(fs, string(latchkey.DefaultEnvironment))
	clientID := fs.String("client-id", latchkey.CLIClientID, "the OAuth app the CLI signs in as")
	noBrowser := fs.Bool("no-browser", false, "print the sign-in URL instead of opening a browser")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if !latchkey.Environment(*env).Valid() {
		return fmt.Errorf("--env %q: an environment's name %s", *env, latchkey.NameRule)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	meta, err := fetchMetadata(ctx, hc, *server, *env)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the browser on a loopback port: %w", err)
	}
	defer ln.Close()
	conf := &oauth2.Config{ClientID: *clientID, Scopes: []string{latchkey.CLIScope},
		RedirectURL: fmt.Sprintf("http://127.0.0.1:%d/callback", ln.Addr().(*net.TCPAddr).Port),
		Endpoint:    oauth2.Endpoint{AuthURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	state, err := randomString()
	if err != nil {
		return err
	}
	verifier := oauth2.GenerateVerifier()

	results := make(chan callbackResult, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res callbackResult
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			http.Error(w, "This is not the sign-in this command started.", http.StatusBadRequest)
			return // not ours: keep waiting
		case q.Get("iss") != "" && q.Get("iss") != meta.Issuer:
			res.err = fmt.Errorf("the answer came from issuer %q, not %q", q.Get("iss"), meta.Issuer)
		case q.Get("error") != "":
			res.err = fmt.Errorf("the sign-in was refused: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the browser came back without a code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "You are signed in to Latchkey's CLI. You can close this tab."
		if res.err != nil {
			msg = "The sign-in failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>Latchkey CLI</title><p>%s</p>", html.EscapeString(msg))
		select {
		case results <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	fmt.Fprintf(stderr, "Sign in to Latchkey (%s, environment %s) in your browser:\n\n  %s\n\n", *server, *env, authURL)
	if !*noBrowser {
		openBrowser(authURL)
	}
	wait, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var res callbackResult
	select {
	case res = <-results:
	case <-wait.Done():
		return fmt.Errorf("no answer from the browser within %s", *timeout)
	}
	if res.err != nil {
		return res.err
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("exchanging the code: %w", err)
	}
	cf, path, err := readCredentials()
	if err != nil {
		return err
	}
	cf.Logins[loginKey(*server, *env)] = savedLogin{Server: strings.TrimRight(*server, "/"), Env: *env, ClientID: *clientID,
		TokenURL: meta.TokenEndpoint, RevocationURL: meta.RevocationEndpoint, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	if err := writeCredentials(path, cf); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Signed in to %s (environment %s); the CLI keeps its token in %s.\n", *server, *env, path)
	return nil
}

// openBrowser opens u in the user's browser, if there is one to open.
func openBrowser(u string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func runLogout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("LATCHKEY_URL", "http://127.0.0.1:8080"), "Latchkey's URL (LATCHKEY_URL)")
	env := envFlag(fs, string(latchkey.DefaultEnvironment))
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cf, path, err := readCredentials()
	if err != nil {
		return err
	}
	l, ok := cf.Logins[loginKey(*server, *env)]
	if !ok {
		fmt.Fprintf(stdout, "Not signed in to %s (environment %s).\n", *server, *env)
		return nil
	}
	// Revoking the refresh token revokes the whole grant (RFC 7009 §2.1).
	if l.RevocationURL != "" {
		form := url.Values{"token": {l.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {l.ClientID}}
		req, err := http.NewRequestWithContext(ctx, "POST", l.RevocationURL, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return fmt.Errorf("revoking the token at %s: %w (the login is kept; try again)", l.RevocationURL, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("revoking the token: HTTP %d (the login is kept; try again)", resp.StatusCode)
		}
	}
	delete(cf.Logins, loginKey(*server, *env))
	if err := writeCredentials(path, cf); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Signed out of %s (environment %s); the token is revoked.\n", *server, *env)
	return nil
}

// errNotSignedIn is what a command that calls the API says without an API
// key or a login.
var errNotSignedIn = errors.New("set LATCHKEY_API_KEY (or LATCHKEY_ADMIN_API_KEY) to an admin API key, or sign in with latchkey login")

// loginToken returns a usable access token of the saved login for server
// and env, refreshing it (and saving the rotated tokens) when it expired.
func loginToken(ctx context.Context, server, env string) (string, error) {
	if env == "" {
		env = string(latchkey.DefaultEnvironment)
	}
	cf, path, err := readCredentials()
	if err != nil {
		return "", err
	}
	l, ok := cf.Logins[loginKey(server, env)]
	if !ok {
		return "", errNotSignedIn
	}
	conf := &oauth2.Config{ClientID: l.ClientID, Endpoint: oauth2.Endpoint{TokenURL: l.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	hc := &http.Client{Timeout: 30 * time.Second}
	tok, err := conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc),
		&oauth2.Token{AccessToken: l.AccessToken, RefreshToken: l.RefreshToken, Expiry: l.Expiry, TokenType: "bearer"}).Token()
	if err != nil {
		return "", fmt.Errorf("refreshing the login of %s (environment %s): %w; sign in again with latchkey login", server, env, err)
	}
	if tok.AccessToken != l.AccessToken {
		l.AccessToken, l.Expiry = tok.AccessToken, tok.Expiry
		if tok.RefreshToken != "" {
			l.RefreshToken = tok.RefreshToken
		}
		cf.Logins[loginKey(server, env)] = l
		if err := writeCredentials(path, cf); err != nil {
			return "", fmt.Errorf("keeping the refreshed login: %w", err)
		}
	}
	return tok.AccessToken, nil
}

// apiCredential is the API key of the environment, or else the saved
// login's access token.
func apiCredential(ctx context.Context, server, env string) (string, error) {
	if key := envOr("LATCHKEY_API_KEY", os.Getenv("LATCHKEY_ADMIN_API_KEY")); key != "" {
		return key, nil
	}
	return loginToken(ctx, server, env)
}
