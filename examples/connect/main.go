// Command connect is a small web app that uses Latchkey as a backend would:
// a user signs in (a name in a cookie, standing in for the app's own
// sign-in), presses Connect, which opens a connect link the backend created
// with the Go client in a popup through Latchkey's browser SDK
// (/sdk/connect.js), and then sees what a declared API call returned.
//
//	go run ./examples/connect [--addr 127.0.0.1:8081] [--latchkey http://127.0.0.1:8080]
//
// The API key comes from LATCHKEY_API_KEY (or LATCHKEY_ADMIN_API_KEY). By
// default it uses the demo app of configs/apps/demo.yaml: app demo, OAuth
// config demo, API me, for the org acme, which it installs on start when
// the key may (an admin key) and it is not installed yet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "connect example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	addr := fs.String("addr", envOr("LATCHKEY_EXAMPLE_ADDR", "127.0.0.1:8081"), "address to listen on (LATCHKEY_EXAMPLE_ADDR)")
	public := fs.String("public-url", os.Getenv("LATCHKEY_EXAMPLE_URL"), "this app's URL as browsers reach it (LATCHKEY_EXAMPLE_URL; http://ADDR when empty)")
	latchkeyURL := fs.String("latchkey", envOr("LATCHKEY_URL", "http://127.0.0.1:8080"), "Latchkey's URL (LATCHKEY_URL)")
	var cfg Config
	fs.StringVar(&cfg.App, "app", "demo", "the Latchkey app")
	fs.StringVar(&cfg.OAuthConfig, "config", "demo", "the app's OAuth config the Connect button connects")
	fs.StringVar(&cfg.Org, "org", "acme", "the org this app's users belong to")
	fs.StringVar(&cfg.API, "api", "me", "the declared API the result page calls")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := envOr("LATCHKEY_API_KEY", os.Getenv("LATCHKEY_ADMIN_API_KEY"))
	if key == "" {
		return errors.New("set LATCHKEY_API_KEY (or LATCHKEY_ADMIN_API_KEY) to a Latchkey API key")
	}
	lk, err := client.New(*latchkeyURL, client.WithAPIKey(key), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	cfg.Latchkey = lk
	cfg.PublicURL = strings.TrimSuffix(*public, "/")
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, err := New(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	cfg.Logger.Info("the connect example is serving", "url", cfg.PublicURL, "latchkey", lk.BaseURL())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
