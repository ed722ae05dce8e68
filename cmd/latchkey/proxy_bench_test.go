package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/outbound"
	"github.com/latchkey/latchkey/pkg/providertest"
)

// callTarget is one way to GET the provider's 1 KB list: its request and
// the size of the answer.
type callTarget struct {
	method, url, auth, body string
	size                    int64
	// settle, when set, runs at the end of the timed calls: what the
	// server still owes them (its queued traces) is counted in.
	settle func()
}

func (ct callTarget) do(client *http.Client) error {
	var body io.Reader = http.NoBody
	if ct.body != "" {
		body = strings.NewReader(ct.body)
	}
	req, err := http.NewRequest(ct.method, ct.url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+ct.auth)
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
	case ct.size > 0 && n != ct.size:
		return fmt.Errorf("got %d bytes, want %d", n, ct.size)
	}
	return nil
}

// proxyBenchEnv is a Latchkey with alice connected, and the three ways to
// reach the provider's list.
type proxyBenchEnv struct {
	direct, bare, latchkey, declared callTarget
}

// newProxyBenchEnv starts the provider, Latchkey (with the list as a
// declared API too), and a bare httputil.ReverseProxy to the provider on
// the same transport as Latchkey's, with alice's token fixed.
func newProxyBenchEnv(b *testing.B, opts ...serverOptions) proxyBenchEnv {
	b.Helper()
	o := serverOptions{quiet: true}
	if len(opts) > 0 {
		o = opts[0]
	}
	h := startServer(b, o)
	env := newCallsEnv(b, h, providertest.Options{AccessTTL: 24 * time.Hour})
	doc := strings.ReplaceAll(callsApp, "{{provider}}", env.provider.URL) + `
  - name: list
    url: /items
    query: {per_page: "25"}
`
	h.expect(http.StatusOK, "PUT", "/api/v1/apps/calls", testAdminKey, "application/yaml", doc)
	token := env.accessToken("alice")
	list := "/items?per_page=25"

	base, _ := url.Parse(env.provider.URL + "/api")
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.Out.URL.Path = base.Path + strings.TrimPrefix(pr.In.URL.Path, "/proxy")
			pr.Out.URL.RawPath = ""
			pr.Out.Header.Set("Authorization", "Bearer "+token)
		},
		Transport: outbound.NewTransport(outbound.Options{AllowPrivate: true}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })

	e := proxyBenchEnv{
		direct:   callTarget{method: "GET", url: env.provider.URL + "/api" + list, auth: token},
		bare:     callTarget{method: "GET", url: "http://" + ln.Addr().String() + "/proxy" + list, auth: testAdminKey},
		latchkey: callTarget{method: "GET", url: h.main.URL + env.base + list, auth: testAdminKey},
		declared: callTarget{method: "POST", url: h.main.URL + "/api/v1/apps/calls/orgs/acme/users/alice/apis/list", auth: testAdminKey},
	}
	// Every way answers the same bytes.
	client := &http.Client{}
	resp, err := client.Get(e.direct.url)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", e.direct.url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	e.direct.size, e.bare.size, e.latchkey.size, e.declared.size = n, n, n, n
	if w := h.main.traces; w != nil {
		settle := func() {
			if err := w.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		e.latchkey.settle, e.declared.settle = settle, settle
	}
	return e
}

// BenchmarkProxiedCall GETs a 1 KB JSON list from a local fake provider
// with benchClients concurrent clients: straight to the provider (direct),
// through a bare httputil.ReverseProxy on the same transport with a fixed
// token (reverseproxy), through Latchkey's proxy route (latchkey) and as a
// declared API (declared). It reports calls/s and the p50 and p99 latency.
func BenchmarkProxiedCall(b *testing.B) {
	env := newProxyBenchEnv(b)
	b.Run("direct", func(b *testing.B) { benchCalls(b, env.direct) })
	b.Run("reverseproxy", func(b *testing.B) { benchCalls(b, env.bare) })
	b.Run("latchkey", func(b *testing.B) { benchCalls(b, env.latchkey) })
	b.Run("declared", func(b *testing.B) { benchCalls(b, env.declared) })
}

// BenchmarkTraceCost is what flow traces cost a call: the proxied and the
// declared 1 KB GET of BenchmarkProxiedCall on a Latchkey with traces off
// (LATCHKEY_TRACES=off) and on one with them on, in turn in one run; the
// traced calls' time and CPU include writing their traces (the writer is
// flushed before the clock stops).
func BenchmarkTraceCost(b *testing.B) {
	off := newProxyBenchEnv(b, serverOptions{quiet: true, noTraces: true})
	on := newProxyBenchEnv(b)
	b.Run("proxy/off", func(b *testing.B) { benchCalls(b, off.latchkey) })
	b.Run("proxy/on", func(b *testing.B) { benchCalls(b, on.latchkey) })
	b.Run("declared/off", func(b *testing.B) { benchCalls(b, off.declared) })
	b.Run("declared/on", func(b *testing.B) { benchCalls(b, on.declared) })
}

func benchCalls(b *testing.B, target callTarget) {
	client := benchClient(b)
	var warm sync.WaitGroup
	for range benchClients {
		warm.Add(1)
		go func() {
			defer warm.Done()
			for range 5 {
				if err := target.do(client); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	warm.Wait()
	runtime.GC()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchClients + procs - 1) / procs)
	var (
		mu    sync.Mutex
		times []time.Duration
	)
	b.ReportAllocs()
	cpuStart := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]time.Duration, 0, b.N/benchClients+1)
		for pb.Next() {
			start := time.Now()
			if err := target.do(client); err != nil {
				b.Error(err)
				return
			}
			own = append(own, time.Since(start))
		}
		mu.Lock()
		times = append(times, own...)
		mu.Unlock()
	})
	if target.settle != nil {
		target.settle()
	}
	b.StopTimer()
	// CPU time per call of the whole process (client, proxy and provider):
	// on a shared machine it moves far less than the throughput does, and
	// the difference from direct is what the hop costs.
	b.ReportMetric(float64((processCPU()-cpuStart).Microseconds())/float64(b.N), "cpu-µs/call")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	if len(times) > 0 {
		slices.Sort(times)
		pct := func(p float64) float64 { return float64(times[int(p*float64(len(times)-1))].Nanoseconds()) / 1e3 }
		b.ReportMetric(pct(0.50), "p50-µs")
		b.ReportMetric(pct(0.99), "p99-µs")
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
