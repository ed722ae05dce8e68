package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The container health check asks /readyz of the server on LATCHKEY_ADDR,
// a wildcard host asked on the loopback address, and fails unless it is
// ready.
func TestHealthcheck(t *testing.T) {
	h := startLatchkey(t)
	u, _ := url.Parse(h.main.URL)
	t.Setenv("LATCHKEY_ADDR", "0.0.0.0:"+u.Port())
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck"}, &out, &out); err != nil {
		t.Fatalf("healthcheck of a ready server: got %v, want none", err)
	}
	if want := "http://127.0.0.1:" + u.Port() + "/readyz"; !strings.Contains(out.String(), want) {
		t.Errorf("got %q, want it to name %s", out.String(), want)
	}

	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"unavailable","message":"the database does not answer"}}`, http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	err := run(context.Background(), []string{"healthcheck", "--url", notReady.URL + "/readyz"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a server answering 503: got %v, want an error naming 503", err)
	}
	notReady.Close()
	if err := run(context.Background(), []string{"healthcheck", "--url", notReady.URL + "/readyz"}, &out, &out); err == nil {
		t.Error("healthcheck of a stopped server: got no error")
	}
}

// The version subcommand prints the version the release build stamped.
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil || out.String() != "latchkey "+version+"\n" {
		t.Fatalf("got %q, %v; want latchkey %s", out.String(), err, version)
	}
}
