// Command latchkey runs the Latchkey server and its operator commands.
//
//	latchkey serve [flags]              run the server
//	latchkey apply -f FILE...           create or replace app documents through the API
//	latchkey login|logout               sign the CLI in through Latchkey's OAuth server, or out
//	latchkey apikeys create|list|revoke manage API keys on the database
//	latchkey admins create|password|list manage the web UI's admin accounts
//	latchkey keys generate|rotate       print a new encryption key; re-encrypt every value under a new key
//	latchkey demo-provider [flags]      run a tiny local OAuth 2 provider to try flows against
//	latchkey healthcheck [--url URL]    exit 0 when a running server is ready (for container health checks)
//	latchkey version                    print the version
//
// Every flag has an environment variable (LATCHKEY_ADDR, LATCHKEY_DATA_DIR,
// LATCHKEY_PUBLIC_URL, LATCHKEY_DATABASE_URL, LATCHKEY_APPS_DIR); secrets
// come only from the environment (LATCHKEY_ADMIN_API_KEY,
// LATCHKEY_ENCRYPTION_KEY) or from files in the data folder.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "latchkey:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `Latchkey: OAuth integrations from configuration.

Usage:
  latchkey serve [--addr 127.0.0.1:8080] [--data-dir ./data] [--public-url URL] [--database-url URL] [--apps DIR]
                 [--metrics-addr ADDR] [--trusted-proxies CIDR,...]
  latchkey apply -f FILE [-f FILE...] [--server URL] [--env ENV]   (API key from LATCHKEY_API_KEY or LATCHKEY_ADMIN_API_KEY, else the login)
  latchkey login [--server URL] [--env ENV] [--no-browser]         (sign in through the browser; the token is kept and refreshed)
  latchkey logout [--server URL] [--env ENV]                       (revoke the login's token and forget it)
  latchkey apikeys create --scope admin|runtime [--app APP] [--name NAME] [--env ENV]   (ENV: LATCHKEY_ENV, default dev)
  latchkey apikeys list [--env ENV]
  latchkey apikeys revoke ID [--env ENV]
  latchkey environments list | create NAME [--public-url URL] | delete NAME [--force]
  latchkey admins create|password --email E             (password from LATCHKEY_ADMIN_PASSWORD or stdin)
  latchkey admins list
  latchkey keys generate
  latchkey keys rotate [--remove-old] [--batch N] [--wait DURATION]
  latchkey demo-provider [--addr 127.0.0.1:9090]
  latchkey providers list [--search TEXT] [--category C] | show NAME
  latchkey providers create NAME [--name APP] [--server URL]   (an app from a catalog entry)
  latchkey providers discover --issuer URL [--name NAME]       (a document from OIDC / RFC 8414 metadata)
  latchkey healthcheck [--url http://127.0.0.1:8080/readyz]
  latchkey version

Run "latchkey COMMAND -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "apply":
		return runApply(ctx, args[1:], stdout, stderr)
	case "login":
		return runLogin(ctx, args[1:], stdout, stderr)
	case "logout":
		return runLogout(ctx, args[1:], stdout, stderr)
	case "apikeys":
		return runAPIKeys(ctx, args[1:], stdout, stderr)
	case "admins":
		return runAdmins(ctx, args[1:], os.Stdin, stdout, stderr)
	case "environments":
		return runEnvironments(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "demo-provider":
		return runDemoProvider(ctx, args[1:], stdout, stderr)
	case "providers":
		return runProviders(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "latchkey", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "latchkey: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
