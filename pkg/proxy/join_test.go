package proxy_test

import (
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/pkg/proxy"
)

func TestJoinKeepsThePathUnderTheBaseURL(t *testing.T) {
	for _, c := range []struct{ base, path, query, want string }{
		{"https://api.example.com/v2", "users/me", "", "https://api.example.com/v2/users/me"},
		{"https://api.example.com/v2/", "/users/me", "a=1", "https://api.example.com/v2/users/me?a=1"},
		{"https://api.example.com", "a%20b/c%3Fd", "", "https://api.example.com/a%20b/c%3Fd"},
		{"https://api.example.com/v2?key=k", "x", "a=1", "https://api.example.com/v2/x?key=k&a=1"},
		{"https://api.example.com/v2", "", "", "https://api.example.com/v2/"},
	} {
		base, _ := url.Parse(c.base)
		got, err := proxy.Join(base, c.path, c.query)
		if err != nil || got.String() != c.want {
			t.Errorf("Join(%s, %s, %s): got %v, %v, want %s", c.base, c.path, c.query, got, err, c.want)
		}
	}
	base, _ := url.Parse("https://api.example.com/v2")
	for _, p := range []string{"..", "../x", "a/../../x", "%2e%2e/x", "%2E%2e", "a%2fb", "a%5Cb", ".", "a/./b", "a%2", "%00/../x"} {
		if got, err := proxy.Join(base, p, ""); err == nil {
			t.Errorf("Join(%s): got %s, want a refusal", p, got)
		}
	}
}
