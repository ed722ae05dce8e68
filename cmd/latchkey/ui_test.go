package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestUIServed checks the embedded builder UI: index.html revalidated on
// every load, hashed assets cached for a year with their content types, a
// CSP allowing only the server's own scripts, and app routes falling back to
// index.html while an unknown asset is a 404.
func TestUIServed(t *testing.T) {
	h := startLatchkey(t)
	resp, body := h.do("GET", "/ui/", "", "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/ui/: got HTTP %d %q, want 200 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("/ui/: got Cache-Control %q, want no-cache", got)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("/ui/: got CSP %q, want script-src 'self' and nothing unsafe", csp)
	}
	assets := regexp.MustCompile(`/ui/assets/[A-Za-z0-9_.-]+\.(js|css)`).FindAllString(string(body), -1)
	if len(assets) < 2 {
		t.Fatalf("index.html names assets %v, want a script and a stylesheet", assets)
	}
	for _, a := range assets {
		resp, _ := h.do("GET", a, "", "", "")
		want := "text/javascript"
		if strings.HasSuffix(a, ".css") {
			want = "text/css"
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) ||
			resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: got HTTP %d %q %q, want 200 %s cached for a year", a, resp.StatusCode,
				resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), want)
		}
	}
	if resp, _ := h.do("GET", "/ui/apps/capacity", "", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("an app route: got HTTP %d, want index.html", resp.StatusCode)
	}
	if resp, _ := h.do("GET", "/ui/assets/missing.js", "", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown asset: got HTTP %d, want 404", resp.StatusCode)
	}
	if resp, _ := h.do("GET", "/ui", "", "", ""); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: got HTTP %d to %q, want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
}
