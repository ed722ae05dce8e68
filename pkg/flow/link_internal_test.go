package flow

import "testing"

func TestReturnToMustStayWithinAnAllowedURL(t *testing.T) {
	allowed := []string{"https://app.example.com/integrations", "https://other.example.com/"}
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://app.example.com/integrations", true},
		{"https://app.example.com/integrations/done?x=1", true},
		{"https://APP.example.com/integrations/done", true},
		{"https://app.example.com/integrations-evil/steal", false},
		{"https://app.example.com/other", false},
		{"http://app.example.com/integrations/done", false},
		{"https://app.example.com.evil.net/integrations", false},
		{"https://user@app.example.com/integrations", false},
		{"https://other.example.com/anything", true},
		{"javascript:alert(1)", false},
		{"/integrations", false},
		{"https://app.example.com/integrations/../../ui/", false},
		{"https://app.example.com/integrations/%2e%2E/ui", false},
		{"https://app.example.com/integrations/./done/..", true},
		{"https://app.example.com/integrations%2Fdone", false},
	} {
		if _, got := returnAllowed(allowed, tc.url); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestReturnToIsResolvedAsABrowserWould(t *testing.T) {
	allowed := []string{"https://app.example.com/integrations/"}
	for in, want := range map[string]string{
		"https://app.example.com/integrations/./a/../done?x=1#top": "https://app.example.com/integrations/done?x=1#top",
		"https://app.example.com/integrations/a/%2E%2e/b/.":        "https://app.example.com/integrations/b/",
		"https://app.example.com/integrations/a/..":                "https://app.example.com/integrations/",
		"https://app.example.com/integrations/%2e.x/done":          "https://app.example.com/integrations/%2e.x/done",
	} {
		if got, ok := returnAllowed(allowed, in); !ok || got != want {
			t.Errorf("%s: got %q, %v, want %q", in, got, ok, want)
		}
	}
}
