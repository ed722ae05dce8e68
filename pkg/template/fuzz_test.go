package template

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRenderJSON checks that no value changes the keys of a rendered body or
// breaks its JSON.
func FuzzRenderJSON(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	tp := MustCompile("request_body", seedRequestBody, JSONBody)
	f.Fuzz(func(t *testing.T, v string) {
		out, err := tp.Render(map[string]string{"auth_code": v, "client_id": v, "client_secret": v})
		if err != nil {
			// JSON escaping can make a value six times longer: three large
			// values, with the template's own text, may meet the output
			// cap, as intended.
			if errors.Is(err, errOutputTooLarge) && 3*6*len(v)+len(seedRequestBody) > MaxOutput {
				return
			}
			// JSON cannot carry invalid UTF-8: refused, never replaced.
			if !utf8.ValidString(v) && strings.Contains(err.Error(), "is not valid UTF-8") {
				if _, perr := tp.RenderParams(map[string]string{"auth_code": v, "client_id": v, "client_secret": v}); perr == nil {
					t.Fatal("RenderParams accepted the invalid UTF-8 that Render refused")
				}
				return
			}
			t.Fatalf("Render: %v", err)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		if got := strings.Join(sortedKeys(obj), ","); got != "client_id,client_secret,code,grant_type,redirect_uri" {
			t.Fatalf("got keys %s, want the seed's five", got)
		}
		params, err := tp.RenderParams(map[string]string{"auth_code": v, "client_id": v, "client_secret": v})
		if err != nil || len(params) != 5 || params[2].Key != "code" {
			t.Fatalf("got params %d (%v), want the seed's five in order", len(params), err)
		}
	})
}

// FuzzRenderURL checks that no value changes a URL's scheme, host, path
// segment count or parameter set.
func FuzzRenderURL(f *testing.F) {
	for _, v := range hostile {
		f.Add("acme", v)
	}
	tp := MustCompile("link_url", "https://{{tenant}}.example.com/o/{{path}}/authorize?client_id={{v}}&state=s#{{v}}", URL)
	f.Fuzz(func(t *testing.T, tenant, v string) {
		out, err := tp.Render(map[string]string{"tenant": tenant, "path": v, "v": v})
		if err != nil {
			if !validLabel(tenant) || v == "." || v == ".." || errors.Is(err, errOutputTooLarge) {
				return
			}
			t.Fatalf("Render with a valid host label: %v", err)
		}
		if !validLabel(tenant) {
			t.Fatalf("got %q from an invalid host label, want an error", out)
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("unparsable URL: %v", err)
		}
		if u.Scheme != "https" || u.Host != tenant+".example.com" || u.User != nil {
			t.Fatalf("got %s://%s, want https://%s.example.com", u.Scheme, u.Host, tenant)
		}
		if n := strings.Count(u.EscapedPath(), "/"); n != 3 {
			t.Fatalf("got %d slashes in the path, want 3", n)
		}
		q := u.Query()
		if len(q) != 2 || q.Get("client_id") != v || q.Get("state") != "s" {
			t.Fatalf("got query keys %d, want client_id and state intact", len(q))
		}
	})
}

// FuzzRenderHeader checks that no value reaches a header with a line break.
func FuzzRenderHeader(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	tp := MustCompile("Authorization", "Bearer {{access_token}}", Header)
	f.Fuzz(func(t *testing.T, v string) {
		out, err := tp.Render(map[string]string{"access_token": v})
		clean := true
		for i := 0; i < len(v); i++ {
			if badTextByte(v[i], true) {
				clean = false
			}
		}
		if err != nil {
			if clean && len(v) < MaxOutput-10 {
				t.Fatalf("Render of a clean value: %v", err)
			}
			return
		}
		if strings.ContainsAny(out, "\r\n\x00") {
			t.Fatal("a header value holds a line break or NUL")
		}
	})
}
