package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// runEnvironments lists, creates and deletes environments, on the
// database directly (as apikeys does).
func runEnvironments(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: latchkey environments list|create NAME [--public-url URL]|delete NAME [--force]")
		return errUsage
	}
	var cfg Config
	fs := flag.NewFlagSet("environments "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	publicURL := fs.String("public-url", "", "the environment's own public URL, for its links and callback (create)")
	force := fs.Bool("force", false, "delete an environment that still has apps or connections, with them (delete)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	st, err := openStore(ctx, cfg, cliLogger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "list":
		envs, err := st.ListEnvironments(ctx)
		if err != nil {
			return err
		}
		for _, e := range envs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", e.Name, e.PublicURL, e.CreatedAt.Format(time.RFC3339))
		}
	case "create", "delete":
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "usage: latchkey environments %s NAME\n", args[0])
			return errUsage
		}
		name := latchkey.Environment(fs.Arg(0))
		if args[0] == "create" {
			if _, err := st.PutEnvironment(ctx, latchkey.EnvironmentInfo{Name: name, PublicURL: *publicURL}); err != nil {
				return describe(err)
			}
			fmt.Fprintf(stdout, "environment %s saved\n", name)
			return nil
		}
		if err := st.DeleteEnvironment(ctx, name, *force); err != nil {
			if latchkey.ErrorCode(err) == latchkey.ECONFLICT {
				return fmt.Errorf("%s (add --force)", latchkey.ErrorMessage(err))
			}
			return err
		}
		fmt.Fprintf(stdout, "environment %s deleted\n", name)
	default:
		fmt.Fprintf(stderr, "latchkey environments: unknown command %q\n", args[0])
		return errUsage
	}
	return nil
}

// environmentURL returns the engine's lookup of an environment's own
// public URL (latchkey environments create NAME --public-url URL).
func environmentURL(st store.Store) func(ctx context.Context) string {
	return func(ctx context.Context) string {
		env := latchkey.EnvironmentFrom(ctx)
		if env == "" {
			return ""
		}
		info, err := st.GetEnvironment(ctx, env)
		if err != nil {
			return ""
		}
		return info.PublicURL
	}
}
