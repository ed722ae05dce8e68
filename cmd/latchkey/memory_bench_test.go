package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// residentMB reads the process's resident set size from /proc, in MB.
func residentMB(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status on this system")
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	tb.Skip("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkResidentMemory reports the server's resident memory with
// 100,000 stored connections beside the same server with none, after the
// same work (1,000 token reads, then a GC): Latchkey keeps no
// per-connection state in memory, so the ratio should stay near 1. One
// iteration is enough: run with -benchtime 1x.
func BenchmarkResidentMemory(b *testing.B) {
	const connections = 100000
	for b.Loop() {
		h := startLatchkey(b)
		h.expect(http.StatusCreated, "PUT", "/api/v1/apps/mem", testAdminKey, "application/json", `{
		  "settings": [{"name": "access_token", "level": "user", "secret": true}, {"name": "refresh_token", "level": "user", "secret": true}],
		  "oauth_configs": [{"name": "p", "link_url": "https://p.example.com/a", "token_url": "https://p.example.com/t",
		    "access_token_variable_name": "access_token", "refresh_token_variable_name": "refresh_token"}]}`)
		st := h.main.Store()
		put := func(i int) {
			_, err := st.PutConnection(b.Context(), latchkey.Connection{
				ConnectionKey: latchkey.ConnectionKey{App: "mem", Org: "acme", User: fmt.Sprintf("u%06d", i), Config: "p"},
				Status:        latchkey.StatusActive, ExpiresAt: h.clock.Now().Add(24 * time.Hour),
				Values: map[string]string{"access_token": fmt.Sprintf("at-%064d", i), "refresh_token": fmt.Sprintf("rt-%064d", i)}})
			if err != nil {
				b.Fatal(err)
			}
		}
		work := func() float64 {
			for i := range 1000 {
				h.do("GET", fmt.Sprintf("/api/v1/apps/mem/orgs/acme/users/u%06d/connections/p", i%10), testAdminKey, "", "")
			}
			h.seen = nil
			runtime.GC()
			debug.FreeOSMemory()
			return residentMB(b)
		}
		for i := range 10 {
			put(i)
		}
		empty := work()
		for i := 10; i < connections; i++ {
			put(i)
		}
		full := work()
		// The store's read cache holds up to 10,000 decrypted connections:
		// read that many distinct users to see it full.
		for i := range 10000 {
			h.do("GET", fmt.Sprintf("/api/v1/apps/mem/orgs/acme/users/u%06d/connections/p", i), testAdminKey, "", "")
			h.seen = nil
		}
		cached := work()
		b.ReportMetric(empty, "MB-10-connections")
		b.ReportMetric(full, "MB-100k-connections")
		b.ReportMetric(full/empty, "ratio")
		b.ReportMetric(cached, "MB-100k-cache-full")
	}
}
