package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// benchTokenPath is the route a backend calls for a user's token.
const benchTokenPath = "/api/v1/apps/capacity/orgs/acme/users/u-42/connections/example"

// benchClients is the number of concurrent clients of the parallel
// benchmarks: the load a later issue asks the token reads per second at.
const benchClients = 64

// BenchmarkTokenRead reads a stored, fresh token through the real server
// over HTTP, one request at a time, on SQLite and on PostgreSQL, beside a
// baseline: a bare echo handler answering a constant body of the same size,
// served and read the same way. The ratio is what the API key check, the
// store read and the decryption add to a request.
func BenchmarkTokenRead(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { benchSerial(b, baselineTarget(b)) })
	b.Run("sqlite", func(b *testing.B) { benchSerial(b, latchkeyTarget(b, "")) })
	b.Run("postgres", func(b *testing.B) { benchSerial(b, latchkeyTarget(b, benchPostgres(b))) })
}

// BenchmarkTokenReadParallel is BenchmarkTokenRead with benchClients
// concurrent clients; besides the time per read it reports reads/s.
func BenchmarkTokenReadParallel(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { benchParallel(b, baselineTarget(b)) })
	b.Run("sqlite", func(b *testing.B) { benchParallel(b, latchkeyTarget(b, "")) })
	b.Run("postgres", func(b *testing.B) { benchParallel(b, latchkeyTarget(b, benchPostgres(b))) })
}

// tokenTarget is a server to read a token from: the URL to GET and the body
// it answers.
type tokenTarget struct {
	url  string
	body []byte
}

// latchkeyTarget starts Latchkey on databaseURL ("" for SQLite in a temp
// folder) with a discarding logger and the real clock, declares the seed
// 002 app, installs it for an org and connects a user through the real flow
// against a provider whose tokens last a day, so that every read finds the
// token fresh and none refreshes.
func latchkeyTarget(tb testing.TB, databaseURL string) tokenTarget {
	tb.Helper()
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: tb.TempDir(), DatabaseURL: databaseURL, AdminAPIKey: testAdminKey},
		Logger: slog.New(slog.DiscardHandler),
		Stdout: io.Discard,
	}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("Run: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	h := &harness{tb: tb, main: m}
	provider := providertest.New(tb, providertest.Options{
		ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		AccessTTL: 24 * time.Hour, RedirectURIs: []string{seedCallback},
	})
	doc := strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL())
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value", "redirect_uri": "`+seedCallback+`"}`)
	link := decode(tb, h.expect(http.StatusCreated, "POST", benchTokenPath+"/link",
		testAdminKey, "application/json", `{"return_to": "https://app.example.com/integrations/done"}`))
	linkURL, _ := link["url"].(string)
	resp, _ := h.do("POST", strings.TrimPrefix(linkURL, m.URL), "", "application/x-www-form-urlencoded", "")
	if resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("allow: got HTTP %d, want 303", resp.StatusCode)
	}
	cb := provider.Authorize(tb, resp.Header.Get("Location"))
	if resp, _ := h.do("GET", "/oauth/callback?"+cb.RawQuery, "", "", ""); resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("callback: got HTTP %d, want 303", resp.StatusCode)
	}
	conn := decode(tb, h.expect(http.StatusOK, "GET", benchTokenPath, testAdminKey, "", ""))
	if access, _ := conn["access_token"].(string); !provider.ValidAccessToken(access) {
		tb.Fatalf("got connection %v, want a token the provider accepts", conn)
	}
	return tokenTarget{url: m.URL + benchTokenPath, body: h.seen[len(h.seen)-1].body}
}

// baselineTarget serves, at the token route, a bare echo handler that
// answers a constant JSON body, the very bytes Latchkey answers on SQLite,
// through an http.Server on a loopback listener as Main does.
func baselineTarget(tb testing.TB) tokenTarget {
	tb.Helper()
	body := latchkeyTarget(tb, "").body
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET(benchTokenPath, func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSONBlob(http.StatusOK, body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return tokenTarget{url: "http://" + ln.Addr().String() + benchTokenPath, body: body}
}

// benchPostgres returns the URL of a fresh schema of the PostgreSQL server
// at LATCHKEY_TEST_POSTGRES_URL, dropped when the benchmark ends, or skips.
func benchPostgres(b *testing.B) string {
	b.Helper()
	base := os.Getenv("LATCHKEY_TEST_POSTGRES_URL")
	if base == "" {
		b.Skip("LATCHKEY_TEST_POSTGRES_URL is not set; set it to a PostgreSQL URL (such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to benchmark on PostgreSQL")
	}
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		b.Fatalf("connecting to PostgreSQL: %v", err)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	schema := "latchkey_bench_" + hex.EncodeToString(suffix)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		b.Fatalf("creating schema: %v", err)
	}
	b.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if db, err := admin.DB(); err == nil {
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// benchClient is the client of every target: keep-alive connections, as
// many kept idle as there are parallel clients.
func benchClient(tb testing.TB) *http.Client {
	tb.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * benchClients
	tr.MaxIdleConnsPerHost = 2 * benchClients
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// readToken GETs target with the admin key and reads the whole answer.
func readToken(client *http.Client, target tokenTarget) error {
	req, err := http.NewRequest("GET", target.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("got HTTP %d, want 200", resp.StatusCode)
	case n != int64(len(target.body)):
		return fmt.Errorf("got a body of %d bytes, want %d", n, len(target.body))
	}
	return nil
}

// benchSerial reads target one request at a time.
func benchSerial(b *testing.B, target tokenTarget) {
	client := benchClient(b)
	if err := readToken(client, target); err != nil { // opens the connection
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := readToken(client, target); err != nil {
			b.Fatal(err)
		}
	}
}

// benchParallel reads target from benchClients goroutines at once and
// reports the reads per second.
func benchParallel(b *testing.B, target tokenTarget) {
	client := benchClient(b)
	if err := readToken(client, target); err != nil {
		b.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchClients + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := readToken(client, target); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
