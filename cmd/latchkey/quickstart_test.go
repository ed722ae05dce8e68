package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/latchkey/latchkey/pkg/demoprovider"
)

// The quickstart's default addresses, which the test replaces in the
// README's commands as a newcomer on other ports would.
const (
	quickstartProviderAddr = "127.0.0.1:9090"
	quickstartLatchkeyAddr = "127.0.0.1:8080"
)

// terminal is one of the quickstart's shells: its exported variables.
type terminal struct {
	name string
	env  map[string]string
}

// quickstart runs the README's quickstart blocks.
type quickstart struct {
	t                      *testing.T
	ctx                    context.Context
	providerAddr, latchkey string
	dataDir                string
	terms                  []*terminal
	// outputs are the curl commands' answers, in order.
	outputs [][]byte
	// background is the long-running commands' ends.
	background []chan error
	logs       *syncWriter
}

// TestQuickstart runs the README's quickstart as a newcomer would, but on
// other ports: every shell block of the section, command by command, each
// terminal with only the variables it exported; the browser's part (the
// landing page, the demo provider's sign-in and consent) as form posts. It
// fails when the README drifts from what works: a command it does not know,
// a variable one terminal reads but another exported, an address the demo
// app does not follow.
func TestQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := quickstartBlocks(t, string(readme))
	q := &quickstart{t: t, providerAddr: freeAddr(t), latchkey: freeAddr(t), dataDir: t.TempDir(), logs: &syncWriter{w: &bytes.Buffer{}}}
	ctx, cancel := context.WithCancel(context.Background())
	q.ctx = ctx
	t.Cleanup(func() {
		cancel()
		for _, done := range q.background {
			if err := <-done; err != nil {
				t.Errorf("a background command ended with %v", err)
			}
		}
		if t.Failed() {
			t.Logf("the servers' logs:\n%s", q.logs.String())
		}
	})
	// The commands run from the repository's folder, as the README says.
	t.Chdir("../..")
	replacer := strings.NewReplacer(quickstartProviderAddr, q.providerAddr, quickstartLatchkeyAddr, q.latchkey)
	for i, block := range blocks {
		q.runBlock(replacer.Replace(block))
		if i == 0 {
			// "Open the url it returns, press Allow access, sign in at the
			// demo provider …, and allow."
			q.connectInBrowser()
		}
	}

	// The token read returned a token the demo provider accepts.
	var conn struct {
		Status      string `json:"status"`
		AccessToken string `json:"access_token"`
	}
	if len(q.outputs) < 3 || json.Unmarshal(q.outputs[2], &conn) != nil || conn.Status != "active" || conn.AccessToken == "" {
		t.Fatalf("the token read: got %s, want an active connection with its access token", q.output(2))
	}
	req, _ := http.NewRequest("GET", "http://"+q.providerAddr+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+conn.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the demo provider's /api/me with the token: got HTTP %d, want 200", resp.StatusCode)
	}

	// The apply step kept the demo app on the addresses in use.
	app := q.get("/api/v1/apps/demo")
	if !strings.Contains(app, `"http://`+q.providerAddr+`/token"`) || !strings.Contains(app, `"http://`+q.latchkey+`/"`) ||
		strings.Contains(app, quickstartProviderAddr) || strings.Contains(app, quickstartLatchkeyAddr) {
		t.Errorf("the demo app after apply: got %s, want it on the provider at %s and Latchkey at %s", app, q.providerAddr, q.latchkey)
	}
}

// quickstartBlocks returns the sh blocks of the README's quickstart
// section, in order.
func quickstartBlocks(tb testing.TB, readme string) []string {
	tb.Helper()
	_, section, ok := strings.Cut(readme, "\n## Quickstart")
	if !ok {
		tb.Fatal("README.md: no Quickstart section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(section, "```sh\n")
		if !ok {
			break
		}
		block, after, ok := strings.Cut(rest, "```")
		if !ok {
			tb.Fatal("README.md: an sh block of the quickstart is not closed")
		}
		blocks = append(blocks, block)
		section = after
	}
	if len(blocks) < 3 {
		tb.Fatalf("README.md: got %d sh blocks in the quickstart, want the setup, the token read and the apply", len(blocks))
	}
	return blocks
}

// terminalHeading is the comment that opens a new terminal: "# 2. Latchkey…".
var terminalHeading = regexp.MustCompile(`(?m)^# (\d+)\. `)

// runBlock runs one block: a "# N." comment opens terminal N; lines before
// any continue in the last terminal opened.
func (q *quickstart) runBlock(block string) {
	q.t.Helper()
	starts := terminalHeading.FindAllStringSubmatchIndex(block, -1)
	if len(starts) == 0 {
		q.runIn(q.current(), block)
		return
	}
	if head := strings.TrimSpace(block[:starts[0][0]]); head != "" {
		q.runIn(q.current(), block[:starts[0][0]])
	}
	for i, s := range starts {
		end := len(block)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		term := &terminal{name: "terminal " + block[s[2]:s[3]], env: map[string]string{}}
		q.terms = append(q.terms, term)
		q.runIn(term, block[s[0]:end])
	}
}

func (q *quickstart) current() *terminal {
	q.t.Helper()
	if len(q.terms) == 0 {
		q.t.Fatal("README.md: the quickstart's first block opens no terminal (# 1. …)")
	}
	return q.terms[len(q.terms)-1]
}

// runIn parses a piece of shell with a real shell parser and runs its
// commands in the terminal.
func (q *quickstart) runIn(term *terminal, script string) {
	q.t.Helper()
	f, err := syntax.NewParser().Parse(strings.NewReader(script), "README.md")
	if err != nil {
		q.t.Fatalf("%s: %v", term.name, err)
	}
	for _, stmt := range f.Stmts {
		cfg := &expand.Config{Env: expand.FuncEnviron(func(name string) string { return term.env[name] })}
		switch cmd := stmt.Cmd.(type) {
		case *syntax.DeclClause:
			if cmd.Variant.Value != "export" {
				q.t.Fatalf("%s: %s: only export is understood", term.name, cmd.Variant.Value)
			}
			for _, a := range cmd.Args {
				v, err := expand.Literal(cfg, a.Value)
				if err != nil {
					q.t.Fatal(err)
				}
				term.env[a.Name.Value] = v
			}
		case *syntax.CallExpr:
			env := map[string]string{}
			for k, v := range term.env {
				env[k] = v
			}
			for _, a := range cmd.Assigns { // NAME=value command
				v, err := expand.Literal(cfg, a.Value)
				if err != nil {
					q.t.Fatal(err)
				}
				env[a.Name.Value] = v
			}
			args, err := expand.Fields(cfg, cmd.Args...)
			if err != nil {
				q.t.Fatal(err)
			}
			q.command(term.name, env, args)
		default:
			q.t.Fatalf("%s: a statement the test does not understand at %s", term.name, stmt.Pos())
		}
	}
}

// command runs one command line of the README.
func (q *quickstart) command(where string, env map[string]string, args []string) {
	q.t.Helper()
	q.t.Logf("%s: %s", where, strings.Join(args, " "))
	switch {
	case len(args) >= 4 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/latchkey":
		q.latchkeyCommand(env, args[3:])
	case len(args) > 0 && args[0] == "curl":
		q.curl(env, args[1:])
	default:
		q.t.Fatalf("%s: %q: a command the quickstart test does not know", where, strings.Join(args, " "))
	}
}

// withEnv makes the process's environment the terminal's: its variables,
// none of Latchkey's from elsewhere, and a data folder of the test's (the
// newcomer's ./data).
func (q *quickstart) withEnv(env map[string]string) {
	q.t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "LATCHKEY_") && !strings.HasPrefix(name, "LATCHKEY_TEST_") {
			q.t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	q.t.Setenv("LATCHKEY_DATA_DIR", q.dataDir)
	for k, v := range env {
		q.t.Setenv(k, v)
	}
}

// latchkeyCommand runs `latchkey ARGS`: the servers in the background until
// they answer, the others to their end.
func (q *quickstart) latchkeyCommand(env map[string]string, args []string) {
	q.t.Helper()
	q.withEnv(env)
	switch args[0] {
	case "serve", "demo-provider":
		addr := flagValue(args, "--addr")
		if addr == "" {
			q.t.Fatalf("latchkey %s: no --addr, so it would not follow the ports chosen", args[0])
		}
		done := make(chan error, 1)
		go func() { done <- run(q.ctx, args, q.logs, q.logs) }()
		q.background = append(q.background, done)
		probe := "http://" + addr + "/"
		if args[0] == "serve" {
			probe = "http://" + addr + "/readyz"
		}
		q.waitFor(probe, done)
	default:
		var out bytes.Buffer
		if err := run(q.ctx, args, &out, &out); err != nil {
			q.t.Fatalf("latchkey %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		q.t.Logf("  %s", strings.TrimSpace(out.String()))
	}
}

// waitFor waits until url answers 200, or the command ends.
func (q *quickstart) waitFor(url string, done chan error) {
	q.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			q.t.Fatalf("the server ended before answering %s: %v\n%s", url, err, q.logs.String())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	q.t.Fatalf("%s: no answer within 30 s", url)
}

// curl sends the request a curl command line describes (-s, -X, -H, -d)
// and keeps its answer.
func (q *quickstart) curl(_ map[string]string, args []string) {
	q.t.Helper()
	method, body, target := "", "", ""
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		next := func() string {
			i++
			if i >= len(args) {
				q.t.Fatalf("curl: %s needs a value", args[i-1])
			}
			return args[i]
		}
		switch a := args[i]; a {
		case "-s":
		case "-X":
			method = next()
		case "-H":
			k, v, _ := strings.Cut(next(), ":")
			header.Add(k, strings.TrimSpace(v))
		case "-d":
			body = next()
		default:
			if strings.HasPrefix(a, "-") || target != "" {
				q.t.Fatalf("curl: %q: not understood by the quickstart test", a)
			}
			target = a
		}
	}
	if method == "" {
		method = "GET"
		if body != "" {
			method = "POST"
		}
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		q.t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		q.t.Fatalf("curl %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		q.t.Fatalf("curl -X %s %s: got HTTP %d %s, want success", method, target, resp.StatusCode, b)
	}
	q.outputs = append(q.outputs, b)
}

func (q *quickstart) output(i int) string {
	if i < len(q.outputs) {
		return string(q.outputs[i])
	}
	return "nothing"
}

// get reads a route of Latchkey with the quickstart's admin key.
func (q *quickstart) get(path string) string {
	q.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+q.latchkey+path, nil)
	req.Header.Set("Authorization", "Bearer "+q.current().env["LATCHKEY_API_KEY"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		q.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		q.t.Fatalf("GET %s: got HTTP %d %s, want 200", path, resp.StatusCode, b)
	}
	return string(b)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// connectInBrowser is the person at the browser: the link's landing page,
// Allow access, the demo provider's sign-in with the password its page
// shows, consent, and the redirect back to Latchkey's callback.
func (q *quickstart) connectInBrowser() {
	q.t.Helper()
	var link struct {
		URL string `json:"url"`
	}
	if len(q.outputs) == 0 || json.Unmarshal(q.outputs[len(q.outputs)-1], &link) != nil || link.URL == "" {
		q.t.Fatalf("the link request: got %s, want a url", q.output(len(q.outputs)-1))
	}
	if want := "http://" + q.latchkey + "/connect/"; !strings.HasPrefix(link.URL, want) {
		q.t.Fatalf("the link: got %s, want it under %s", link.URL, want)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(method, target string, form url.Values) (*http.Response, string) {
		q.t.Helper()
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = browser.Get(target)
		} else {
			resp, err = browser.PostForm(target, form)
		}
		if err != nil {
			q.t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			q.t.Fatalf("%s %s: got HTTP %d %s", method, target, resp.StatusCode, b)
		}
		return resp, string(b)
	}
	hidden := func(page string) url.Values {
		v := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
		return v
	}
	provider := "http://" + q.providerAddr

	if _, page := visit("GET", link.URL, nil); !strings.Contains(page, "Allow access") {
		q.t.Fatalf("the landing page has no Allow access:\n%s", page)
	}
	resp, _ := visit("POST", link.URL, url.Values{})
	authorize := resp.Header.Get("Location")
	if !strings.HasPrefix(authorize, provider+"/authorize?") {
		q.t.Fatalf("Allow access: got a redirect to %q, want the demo provider at %s", authorize, provider)
	}
	_, login := visit("GET", authorize, nil)
	if !strings.Contains(login, demoprovider.DemoPassword) {
		q.t.Fatalf("the demo provider's login page does not show the password:\n%s", login)
	}
	f := hidden(login)
	f.Set("username", "alice")
	f.Set("password", demoprovider.DemoPassword)
	resp, _ = visit("POST", provider+"/login", f)
	_, consent := visit("GET", provider+resp.Header.Get("Location"), nil)
	f = hidden(consent)
	f.Set("decision", "allow")
	resp, _ = visit("POST", provider+"/authorize", f)
	callback := resp.Header.Get("Location")
	if want := "http://" + q.latchkey + "/oauth/callback?"; !strings.HasPrefix(callback, want) {
		q.t.Fatalf("consent: got a redirect to %q, want Latchkey's callback %s", callback, want)
	}
	visit("GET", callback, nil)
}

// flagValue returns the value of --name in args (--name V or --name=V).
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if addr == quickstartProviderAddr || addr == quickstartLatchkeyAddr {
		return freeAddr(tb)
	}
	return addr
}

// A document in the apps folder reads ${LATCHKEY_PUBLIC_URL} as the URL the
// server derived from its address, and one naming an unset variable without
// a default stops the start, naming the variable and the file.
func TestAppsFolderVariables(t *testing.T) {
	dir := t.TempDir()
	doc := `name: vars
allowed_return_urls: ["${LATCHKEY_PUBLIC_URL}/done"]
settings: [{name: access_token, level: user, secret: true}]
oauth_configs:
  - name: p
    link_url: ${PROVIDER_URL_FOR_TEST:-https://provider.example}/authorize?client_id={{client_id}}
    token_url: ${PROVIDER_URL_FOR_TEST:-https://provider.example}/token
    access_token_variable_name: access_token
    values: {client_id: c}
`
	if err := os.WriteFile(dir+"/vars.yaml", []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_PUBLIC_URL", "")
	os.Unsetenv("LATCHKEY_PUBLIC_URL")
	t.Setenv("PROVIDER_URL_FOR_TEST", "http://127.0.0.1:9191")
	h := startLatchkey(t, func(c *Config) { c.AppsDir = dir })
	app := string(h.expect(http.StatusOK, "GET", "/api/v1/apps/vars", testAdminKey, "", ""))
	for _, want := range []string{`"` + h.main.URL + `/done"`, `"http://127.0.0.1:9191/token"`} {
		if !strings.Contains(app, want) {
			t.Errorf("got app %s, want %s in it", app, want)
		}
	}

	if err := os.WriteFile(dir+"/vars.yaml", []byte(strings.ReplaceAll(doc, ":-https://provider.example", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("PROVIDER_URL_FOR_TEST")
	m := &Main{WrapHandler: checked(t), Config: Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminAPIKey: testAdminKey, RefreshInterval: -1, AppsDir: dir},
		Logger: h.main.Logger, Stdout: io.Discard}
	err := m.Run(context.Background())
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "vars.yaml") || !strings.Contains(err.Error(), "PROVIDER_URL_FOR_TEST") {
		t.Fatalf("Run with an unset variable: got %v, want an error naming vars.yaml and PROVIDER_URL_FOR_TEST", err)
	}
}

// The API table (moved from the README to docs/api.md) names each route
// once.
func TestREADMEAPITableListsEachRouteOnce(t *testing.T) {
	readme, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "| Method and path |")
	if !ok {
		t.Fatal("docs/api.md: no API table (| Method and path |)")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	code := regexp.MustCompile("`([^`]+)`")
	rows := map[string]int{}
	for i, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		var pending []string
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			method, path, _ := strings.Cut(m[1], " ")
			if !strings.HasPrefix(m[1], "/") && path == "" { // `PUT` (replace) or `PATCH` … `/path`
				pending = append(pending, method)
				continue
			}
			if strings.HasPrefix(m[1], "/") {
				method, path = "", m[1]
			}
			path, _, _ = strings.Cut(path, "?")
			if method != "" {
				pending = append(pending, method)
			}
			for _, meth := range pending {
				route := meth + " " + path
				if first, seen := rows[route]; seen {
					t.Errorf("docs/api.md API table: %s is in row %d and again in row %d", route, first, i)
				}
				rows[route] = i
			}
			pending = nil
		}
	}
	if len(rows) < 20 {
		t.Fatalf("docs/api.md API table: got %d routes, want the table read whole", len(rows))
	}
}
