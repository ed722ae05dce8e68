package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/httpapi"
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
	deleteConns := fs.Bool("delete-connections", false, "let a document remove OAuth configs that still have connections, deleting those connections (without revoking their tokens)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "latchkey apply: name at least one document with -f FILE")
		return errUsage
	}
	key := envOr("LATCHKEY_API_KEY", os.Getenv("LATCHKEY_ADMIN_API_KEY"))
	if key == "" {
		return errors.New("set LATCHKEY_API_KEY (or LATCHKEY_ADMIN_API_KEY) to an admin API key")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var failed int
	for _, f := range files {
		if err := applyFile(ctx, client, *server, key, f, *deleteConns, stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d documents were not applied", failed, len(files))
	}
	return nil
}

func applyFile(ctx context.Context, client *http.Client, server, key, file string, deleteConns bool, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	vars := documentVariables(envOr("LATCHKEY_PUBLIC_URL", strings.TrimSuffix(server, "/")))
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
	u := strings.TrimSuffix(server, "/") + "/api/v1/apps/" + url.PathEscape(app.Name)
	if deleteConns {
		u += "?delete_connections=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Message string                `json:"message"`
				Details []latchkey.FieldError `json:"details"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			if resp.StatusCode == http.StatusConflict && len(e.Error.Details) > 0 && e.Error.Details[0].Field == "oauth_configs" {
				// The server's message names the API's query parameter;
				// here the flag is the way.
				e.Error.Message, _, _ = strings.Cut(e.Error.Message, " (PUT with")
				e.Error.Message += "; rerun with --delete-connections to delete them"
			}
			return describe(&latchkey.Error{Code: resp.Status, Message: e.Error.Message, Fields: e.Error.Details})
		}
		return fmt.Errorf("the server answered %s", resp.Status)
	}
	verb := "updated"
	if resp.StatusCode == http.StatusCreated {
		verb = "created"
	}
	if n := resp.Header.Get(httpapi.DeletedConnectionsHeader); n != "" {
		verb += "; " + n + " connections of removed OAuth configs deleted"
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
