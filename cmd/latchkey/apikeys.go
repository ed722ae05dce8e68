package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/latchkey/latchkey/pkg/apikey"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// runAPIKeys manages API keys directly on the database.
func runAPIKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: latchkey apikeys create|list|revoke")
		return errUsage
	}
	var cfg Config
	fs := flag.NewFlagSet("apikeys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	scope := fs.String("scope", "", "admin or runtime (create)")
	app := fs.String("app", "", "the app a runtime key reads (create)")
	name := fs.String("name", "", "a name to recognise the key by (create)")
	env := envFlag(fs, string(latchkey.DefaultEnvironment))
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	ctx, err := inEnvironment(ctx, *env)
	if err != nil {
		return err
	}
	logger := cliLogger(stderr)
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		if *scope == latchkey.ScopeRuntime {
			if _, err := st.GetApp(ctx, *app); err != nil {
				return err
			}
		}
		rec, full, err := apikey.Generate(*scope, *app, *name, time.Now())
		if err != nil {
			return err
		}
		rec.Env = latchkey.Environment(*env)
		if err := st.CreateAPIKey(ctx, rec); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", full)
		fmt.Fprintf(stderr, "API key %s (%s%s) created in environment %s; it is shown this once.\n", rec.ID, rec.Scope, appSuffix(rec.App), rec.Env)
	case "list":
		keys, err := st.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked " + k.RevokedAt.Format(time.RFC3339)
			}
			used := "never used"
			if k.LastUsedAt != nil {
				used = "used " + k.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s\t%s%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, appSuffix(k.App), k.Name, k.CreatedAt.Format(time.RFC3339), state, used)
		}
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: latchkey apikeys revoke ID")
			return errUsage
		}
		if err := st.RevokeAPIKey(ctx, fs.Arg(0), time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s revoked\n", fs.Arg(0))
	default:
		fmt.Fprintf(stderr, "latchkey apikeys: unknown command %q\n", args[0])
		return errUsage
	}
	return nil
}

func appSuffix(app string) string {
	if app == "" {
		return ""
	}
	return " app " + app
}
