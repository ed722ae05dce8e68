package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// version is the release's version, set by the release build (.ci/build:
// -ldflags "-X main.version=…"); "dev" otherwise.
var version = "dev"

// runHealthcheck asks a running server's readiness route and fails unless
// it answers 200, for container health checks: the runtime image has no
// shell and no curl. The URL defaults to /readyz on LATCHKEY_ADDR, with a
// wildcard host (0.0.0.0, [::], none) asked on the loopback address.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "URL to ask; default http://LATCHKEY_ADDR/readyz")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *target == "" {
		addr := envOr("LATCHKEY_ADDR", "127.0.0.1:8080")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("LATCHKEY_ADDR %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		*target = "http://" + net.JoinHostPort(host, port) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not healthy: %s answered %s: %s", *target, resp.Status, body)
	}
	fmt.Fprintf(stdout, "healthy: %s answered %s\n", *target, resp.Status)
	return nil
}
