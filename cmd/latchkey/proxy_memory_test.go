package main

import (
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/providertest"
)

// patternReader yields n bytes of a pattern without holding them.
type patternReader struct{ left int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.left))
	for i := range n {
		p[i] = byte('a' + i%26)
	}
	r.left -= int64(n)
	return n, nil
}

// peakRSS samples the process's resident memory every 5 ms while fn runs
// and returns how far above the start it rose, in MB.
func peakRSS(tb testing.TB, fn func()) float64 {
	tb.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	start := residentMB(tb)
	var peak atomic.Value
	peak.Store(start)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v := residentMB(tb); v > peak.Load().(float64) {
					peak.Store(v)
				}
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	if v := residentMB(tb); v > peak.Load().(float64) {
		peak.Store(v)
	}
	return peak.Load().(float64) - start
}

// TestProxyStreams100MBWithBoundedMemory sends a 100 MB upload and reads a
// 100 MB download through the proxy; the process (Latchkey, the fake
// provider and the client together) grows by less than 16 MB.
func TestProxyStreams100MBWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200 MB")
	}
	const size = 100 << 20
	env := newCallsEnv(t, startLatchkey(t), providertest.Options{})
	client := &http.Client{}
	up := peakRSS(t, func() {
		req, _ := http.NewRequest("PUT", env.main.URL+env.base+"/upload", &patternReader{left: size})
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := decode(t, b)
		if resp.StatusCode != http.StatusOK || got["bytes"] != float64(size) || got["content_length"] != float64(size) {
			t.Fatalf("upload: got HTTP %d %s, want the provider to count %d bytes under the caller's Content-Length", resp.StatusCode, b, size)
		}
	})
	down := peakRSS(t, func() {
		req, _ := http.NewRequest("GET", env.main.URL+env.base+"/download?size=104857600", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || resp.ContentLength != size {
			t.Fatalf("download: got %d bytes (Content-Length %d, %v), want %d", n, resp.ContentLength, err, size)
		}
	})
	t.Logf("resident memory growth: upload %.1f MB, download %.1f MB", up, down)
	if up >= 16 || down >= 16 {
		t.Fatalf("got growth of %.1f MB (upload) and %.1f MB (download), want under 16 MB each", up, down)
	}
}
