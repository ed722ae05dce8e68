package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// runProviders is the provider catalog's command: list and show read the
// catalog embedded in this binary, create makes an app from an entry on a
// running server, and discover builds a document from an issuer's
// metadata.
func runProviders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: latchkey providers list|show|create|discover …")
		return errUsage
	}
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("providers "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "list":
		search := fs.String("search", "", "text to find in names, labels and descriptions")
		category := fs.String("category", "", "one category: "+strings.Join(catalog.Categories, ", "))
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCATEGORY\tGRANTS\tLABEL")
		for _, e := range cat.List(catalog.Query{Search: *search, Category: *category}) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Category, strings.Join(e.Grants, ","), e.Label)
		}
		return tw.Flush()
	case "show":
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: latchkey providers show NAME")
			return errUsage
		}
		app, err := cat.NewApp(fs.Arg(0), "")
		if err != nil {
			return err
		}
		return printYAML(stdout, app)
	case "create":
		name := fs.String("name", "", "the app's name (the entry's name by default)")
		server := fs.String("server", envOr("LATCHKEY_URL", "http://127.0.0.1:8080"), "Latchkey's URL (LATCHKEY_URL)")
		if err := fs.Parse(reorder(args[1:])); err != nil || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: latchkey providers create NAME [--name APP] [--server URL]")
			return errUsage
		}
		return createFromCatalog(ctx, *server, fs.Arg(0), *name, stdout)
	case "discover":
		issuer := fs.String("issuer", "", "the issuer URL, such as https://accounts.example.com")
		name := fs.String("name", "", "the document's name (from the issuer's host by default)")
		if err := fs.Parse(args[1:]); err != nil || *issuer == "" {
			fmt.Fprintln(stderr, "usage: latchkey providers discover --issuer URL [--name NAME]")
			return errUsage
		}
		md, err := catalog.Discover(ctx, &http.Client{Timeout: 10 * time.Second}, *issuer)
		if err != nil {
			return describe(err)
		}
		app, err := md.Document(*name)
		if err != nil {
			return describe(err)
		}
		return printYAML(stdout, app)
	}
	fmt.Fprintf(stderr, "latchkey providers: unknown command %q\n", args[0])
	return errUsage
}

// reorder puts flags before the positional arguments, so that
// "create NAME --name APP" parses as "create --name APP NAME".
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			flags = append(flags, args[i])
			if !strings.Contains(args[i], "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, args[i])
	}
	return append(flags, pos...)
}

func printYAML(w io.Writer, app latchkey.App) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(app); err != nil {
		return err
	}
	return enc.Close()
}

// createFromCatalog asks a running server to create an app from a catalog
// entry (POST /api/v1/providers/{name}/app).
func createFromCatalog(ctx context.Context, server, entry, name string, stdout io.Writer) error {
	key, err := apiCredential(ctx, server, "")
	if err != nil {
		return err
	}
	lk, err := client.New(server, client.WithAPIKey(key), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithUserAgent("latchkey-providers"))
	if err != nil {
		return err
	}
	app, err := lk.CreateAppFromProvider(ctx, entry, name)
	var ce *client.Error
	if errors.As(err, &ce) {
		return describe(&latchkey.Error{Code: ce.Code, Message: ce.Message, Fields: ce.Fields})
	}
	if err != nil {
		return err
	}
	var org []string
	for _, s := range app.Settings {
		if s.Level == latchkey.LevelOrg && s.Required && s.Default == "" {
			org = append(org, s.Name)
		}
	}
	fmt.Fprintf(stdout, "app %q created from the catalog entry %q; each org installs it with: %s\n", app.Name, entry, strings.Join(org, ", "))
	return nil
}
