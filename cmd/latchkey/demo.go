package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/pkg/demoprovider"
)

// runDemoProvider runs a tiny local OAuth 2 provider, so that a flow can be
// tried end to end on one machine without any account.
func runDemoProvider(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-provider", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "address to listen on")
	clientID := fs.String("client-id", "demo-client", "the OAuth client id it accepts")
	clientSecret := fs.String("client-secret", "demo-secret", "the OAuth client secret it accepts")
	ttl := fs.Duration("access-ttl", time.Hour, "lifetime of access tokens")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	h, err := demoprovider.New(demoprovider.Config{ClientID: *clientID, ClientSecret: *clientSecret, AccessTTL: *ttl, Logger: logger})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "demo OAuth 2 provider on http://%s (client id %q)\n", *addr, *clientID)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
