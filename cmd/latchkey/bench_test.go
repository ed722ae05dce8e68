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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// benchTokenPath is the route a backend calls for a user's token.
func benchTokenPath(user string) string {
	return "/api/v1/apps/capacity/orgs/acme/users/" + user + "/connections/example"
}

// benchUsers is how many users the benchmarks connect and read the tokens
// of, in turn: a store's cache is measured on many keys, not one hot key.
const benchUsers = 100

// benchClients is the number of concurrent clients of the parallel
// benchmarks: the load a later issue asks the token reads per second at.
const benchClients = 64

// BenchmarkTokenRead reads stored, fresh tokens through the real server
// over HTTP, one request at a time, on SQLite and on PostgreSQL, beside a
// baseline: a bare echo handler answering constant bodies of the same
// sizes, served and read the same way. The ratio is what the API key check,
// the store read and the decryption add to a request. Reads cycle through
// benchUsers users.
func BenchmarkTokenRead(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { benchSerial(b, baselineTarget(b)) })
	b.Run("sqlite", func(b *testing.B) { benchSerial(b, latchkeyTarget(b, "")) })
	b.Run("postgres", func(b *testing.B) { benchSerial(b, latchkeyTarget(b, benchPostgres(b))) })
}

// BenchmarkTokenReadParallel is BenchmarkTokenRead with benchClients
// concurrent clients, each cycling through the users from its own place;
// besides the time per read it reports reads/s and the median and 99th
// percentile latency of a read (p50-µs, p99-µs).
func BenchmarkTokenReadParallel(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { benchParallel(b, baselineTarget(b)) })
	b.Run("sqlite", func(b *testing.B) { benchParallel(b, latchkeyTarget(b, "")) })
	b.Run("postgres", func(b *testing.B) { benchParallel(b, latchkeyTarget(b, benchPostgres(b))) })
}

// tokenTarget is a server to read tokens from: the URLs to GET, one per
// user, and the bodies they answer.
type tokenTarget struct {
	urls   []string
	bodies [][]byte
}

// latchkeyTarget starts Latchkey on databaseURL ("" for SQLite in a temp
// folder) with a discarding logger and the real clock, declares the seed
// 002 app, installs it for an org and connects benchUsers users through the
// real flow against a provider whose tokens last a day, so that every read
// finds the token fresh and none refreshes.
func latchkeyTarget(tb testing.TB, databaseURL string) tokenTarget {
	tb.Helper()
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: tb.TempDir(), DatabaseURL: databaseURL, AdminAPIKey: testAdminKey, AllowPrivateUpstreams: true},
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
	h := &harness{tb: tb, main: m, jar: newJar(tb)}
	provider := providertest.New(tb, providertest.Options{
		ClientID: "capacity-client", ClientSecret: "s3cr3t-client-value",
		AccessTTL: 24 * time.Hour, RedirectURIs: []string{seedCallback},
	})
	doc := strings.ReplaceAll(seedApp, "{{provider}}", provider.BaseURL())
	h.expect(http.StatusCreated, "PUT", "/api/v1/apps/capacity", testAdminKey, "application/yaml", doc)
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/capacity/orgs/acme/settings", testAdminKey, "application/json",
		`{"client_id": "capacity-client", "client_secret": "s3cr3t-client-value", "redirect_uri": "`+seedCallback+`"}`)
	var target tokenTarget
	for i := range benchUsers {
		path := benchTokenPath(fmt.Sprintf("u-%d", i))
		link := decode(tb, h.expect(http.StatusCreated, "POST", path+"/link",
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
		conn := decode(tb, h.expect(http.StatusOK, "GET", path, testAdminKey, "", ""))
		if access, _ := conn["access_token"].(string); !provider.ValidAccessToken(access) {
			tb.Fatalf("got connection %v, want a token the provider accepts", conn)
		}
		target.urls = append(target.urls, m.URL+path)
		target.bodies = append(target.bodies, h.seen[len(h.seen)-1].body)
	}
	return target
}

// baselineTarget serves, at the token route, a bare echo handler that
// answers for each user a constant JSON body, the very bytes Latchkey
// answers on SQLite, through an http.Server on a loopback listener as Main
// does.
func baselineTarget(tb testing.TB) tokenTarget {
	tb.Helper()
	lk := latchkeyTarget(tb, "")
	bodies := make(map[string][]byte, benchUsers)
	for i, body := range lk.bodies {
		bodies[fmt.Sprintf("u-%d", i)] = body
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET(benchTokenPath(":user"), func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSONBlob(http.StatusOK, bodies[c.Param("user")])
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
	target := tokenTarget{bodies: lk.bodies}
	for i := range benchUsers {
		target.urls = append(target.urls, "http://"+ln.Addr().String()+benchTokenPath(fmt.Sprintf("u-%d", i)))
	}
	return target
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

// readToken GETs the token of target's user i with the admin key and reads
// the whole answer.
func readToken(client *http.Client, target tokenTarget, i int) error {
	req, err := http.NewRequest("GET", target.urls[i], nil)
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
	case n != int64(len(target.bodies[i])):
		return fmt.Errorf("got a body of %d bytes, want %d", n, len(target.bodies[i]))
	}
	return nil
}

// benchSerial reads target one request at a time, cycling through its
// users.
func benchSerial(b *testing.B, target tokenTarget) {
	client := benchClient(b)
	if err := readToken(client, target, 0); err != nil { // opens the connection
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := readToken(client, target, i); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(target.urls)
	}
}

// benchParallel reads target from benchClients goroutines at once, each
// cycling through the users from its own place, and reports the reads per
// second and the median and 99th percentile time of a read.
func benchParallel(b *testing.B, target tokenTarget) {
	client := benchClient(b)
	// Warm up: every client opens its connection and reads every user
	// once, so that what is measured is the steady state, not connection
	// set-up or a cold cache.
	var warm sync.WaitGroup
	warmErr := make(chan error, benchClients)
	for range benchClients {
		warm.Add(1)
		go func() {
			defer warm.Done()
			for i := range target.urls {
				if err := readToken(client, target, i); err != nil {
					warmErr <- err
					return
				}
			}
		}()
	}
	warm.Wait()
	close(warmErr)
	for err := range warmErr {
		b.Fatal(err)
	}
	runtime.GC()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchClients + procs - 1) / procs)
	var (
		mu    sync.Mutex
		times []time.Duration
		next  int
	)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		i := next * 7 // clients start apart
		next++
		mu.Unlock()
		own := make([]time.Duration, 0, b.N/benchClients+1)
		for pb.Next() {
			i = (i + 1) % len(target.urls)
			start := time.Now()
			if err := readToken(client, target, i); err != nil {
				b.Error(err)
				return
			}
			own = append(own, time.Since(start))
		}
		mu.Lock()
		times = append(times, own...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	if len(times) > 0 {
		slices.Sort(times)
		pct := func(p float64) float64 {
			return float64(times[int(p*float64(len(times)-1))].Nanoseconds()) / 1e3
		}
		b.ReportMetric(pct(0.50), "p50-µs")
		b.ReportMetric(pct(0.99), "p99-µs")
	}
}
