package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runApply sends app documents to a running server, as an admin would with
// PUT /api/v1/apps/{app}; the server validates and compiles each one. Each
// file's ${NAME} references are expanded first, as serve --apps does, with
// LATCHKEY_PUBLIC_URL defaulting to the server's URL.
func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var files stringList
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&files, "f", "app document (YAML or JSON); repeatable")
	server := fs.String("server", envOr("LATCHKEY_URL", "http://127.0.0.1:8080"), "Latchkey's URL (LATCHKEY_URL)")
	env := envFlag(fs, "")
	deleteConns := fs.Bool("delete-connections", false, "let a document remove OAuth configs that still have connections, deleting those connections (without revoking their tokens)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "latchkey apply: name at least one document with -f FILE")
		return errUsage
	}
	if *env != "" {
		if _, err := inEnvironment(ctx, *env); err != nil {
			return err
		}
	}
	key, err := apiCredential(ctx, *server, *env)
	if err != nil {
		return err
	}
	// An environment key must be of --env; the operator's
	// LATCHKEY_ADMIN_API_KEY acts in the one named.
	lk, err := client.New(*server, client.WithAPIKey(key), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithUserAgent("latchkey-apply"), client.WithEnvironment(*env))
	if err != nil {
		return err
	}
	var failed int
	for _, f := range files {
		if err := applyFile(ctx, lk, f, *deleteConns, stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d documents were not applied", failed, len(files))
	}
	return nil
}

// applyFile sends one document through the Go client, as written (after
// its variables are expanded), so that the server reports its own lines'
// errors.
func applyFile(ctx context.Context, lk *client.Client, file string, deleteConns bool, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	vars := documentVariables(envOr("LATCHKEY_PUBLIC_URL", lk.BaseURL()))
	if data, err = latchkey.ExpandVariables(data, vars); err != nil {
		return describe(err)
	}
	app, err := latchkey.ParseApp(data)
	if err != nil {
		return describe(err)
	}
	ct := "application/yaml"
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		ct = "application/json"
	}
	res, err := lk.PutAppDocument(ctx, app.Name, data, ct, &client.PutOptions{DeleteConnections: deleteConns})
	var ce *client.Error
	if errors.As(err, &ce) {
		msg := ce.Message
		if ce.Status == http.StatusConflict && len(ce.Fields) > 0 && ce.Fields[0].Field == "oauth_configs" {
			// The server's message names the API's query parameter; here
			// the flag is the way.
			msg, _, _ = strings.Cut(msg, " (PUT with")
			msg += "; rerun with --delete-connections to delete them"
		}
		if msg == "" {
			return fmt.Errorf("the server answered %d %s", ce.Status, http.StatusText(ce.Status))
		}
		return describe(&latchkey.Error{Code: ce.Code, Message: msg, Fields: ce.Fields})
	}
	if err != nil {
		return err
	}
	verb := "updated"
	if res.Created {
		verb = "created"
	}
	if res.DeletedConnections > 0 {
		verb += fmt.Sprintf("; %d connections of removed OAuth configs deleted", res.DeletedConnections)
	}
	fmt.Fprintf(stdout, "app %q %s\n", app.Name, verb)
	return nil
}

// describe prints a domain error with one line per field.
func describe(err error) error {
	var le *latchkey.Error
	if !errors.As(err, &le) || len(le.Fields) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString(le.Message)
	for _, f := range le.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
	}
	return errors.New(b.String())
}
