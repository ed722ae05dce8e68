package template

import (
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// The seed 002 bodies, verbatim.
const (
	seedRequestBody = `{"grant_type":  "authorization_code", "redirect_uri": "https://auth.capacity.com/v1/dev_oauth/callback", "code": "{{auth_code}}", "client_id": {{client_id}}, "client_secret": {{client_secret}}}`
	seedRefreshBody = `{"refresh_token": {{refresh_token}}, "grant_type": "refresh_token"}`
)

// hostile are values that try to break out of every context.
var hostile = []string{
	"plain", "", `"`, `\`, `\"`, "line\nbreak", "cr\rlf\r\n", `{{client_secret}}`, "}}", "{{", `","admin":"true`,
	`" , "injected": 1, "x": "`, "a&b=c", "a#frag", "a?q=1", "a/b/../c", "user@evil.com", "evil.com/", "tab\t",
	"\x00nul", "ünïcødé ✓", "</script>", "%2F%0A", "\u2028\u2029", strings.Repeat("long", 1000),
}

func mustRenderObject(t *testing.T, tp *Template, vals map[string]string) map[string]any {
	t.Helper()
	out, err := tp.Render(vals)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("got invalid JSON %q: %v", out, err)
	}
	return obj
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func TestSeedBodiesRenderValidJSONWhateverTheValues(t *testing.T) {
	req := MustCompile("request_body", seedRequestBody, JSONBody)
	ref := MustCompile("refresh_token_body", seedRefreshBody, JSONBody)
	if got := strings.Join(req.Vars(), ","); got != "auth_code,client_id,client_secret" {
		t.Fatalf("got vars %s, want auth_code,client_id,client_secret", got)
	}
	for _, v := range hostile {
		obj := mustRenderObject(t, req, map[string]string{"auth_code": v, "client_id": v, "client_secret": v})
		if got := strings.Join(keys(obj), ","); got != "client_id,client_secret,code,grant_type,redirect_uri" {
			t.Fatalf("value %q: got keys %s, want the seed's five", v, got)
		}
		for _, k := range []string{"code", "client_id", "client_secret"} {
			if obj[k] != v {
				t.Fatalf("value %q: got %s=%q, want the value intact", v, k, obj[k])
			}
		}
		obj = mustRenderObject(t, ref, map[string]string{"refresh_token": v})
		if len(obj) != 2 || obj["refresh_token"] != v || obj["grant_type"] != "refresh_token" {
			t.Fatalf("value %q: got %v, want the refresh body with the value intact", v, obj)
		}
	}
}

func TestRenderParamsKeepsOrderAndTypes(t *testing.T) {
	tp := MustCompile("b", `{"b": {{x}}, "a": 1, "c": true, "d": null, "e": {"n": [1, 2]}, "f": "{{x}}-y"}`, JSONBody)
	params, err := tp.RenderParams(map[string]string{"x": `q"`})
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"b", `q"`}, {"a", "1"}, {"c", "true"}, {"d", ""}, {"e", `{"n":[1,2]}`}, {"f", `q"-y`}}
	if len(params) != len(want) {
		t.Fatalf("got %v, want %v", params, want)
	}
	for i := range want {
		if params[i] != want[i] {
			t.Errorf("param %d: got %v, want %v", i, params[i], want[i])
		}
	}
}

func TestGoTemplateSyntaxAndSprigWork(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{"a": {{ .x | upper }}}`, `{"a": "ABC"}`},
		{`{"a": {{ x | upper }}}`, `{"a": "ABC"}`},
		{`{"a": "{{ .x }}-{{ b64enc .x }}"}`, `{"a": "abc-YWJj"}`},
		{`{"a": {{ if eq .x "abc" }}"yes"{{ else }}"no"{{ end }}}`, `{"a": "yes"}`},
		{`{"n": {{ len .x }}}`, `{"n": 3}`},
		{`{"sub": {{sub}}}`, `{"sub": "s"}`},
	} {
		tp, err := Compile("t", tc.src, JSONBody)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := tp.Render(map[string]string{"x": "abc", "sub": "s"})
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestURLValuesCannotChangeTheURLsShape(t *testing.T) {
	tp := MustCompile("link_url", "https://{{shop}}.myshopify.com/admin/{{section}}/authorize?client_id={{client_id}}&scope=read", URL)
	for _, v := range hostile {
		out, err := tp.Render(map[string]string{"shop": "acme", "section": v, "client_id": v})
		if err != nil {
			t.Fatalf("value %q in path and query: %v", v, err)
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("value %q: got unparsable %q", v, out)
		}
		if u.Host != "acme.myshopify.com" || u.Scheme != "https" || u.Fragment != "" {
			t.Fatalf("value %q: got %s://%s#%s, want https://acme.myshopify.com and no fragment", v, u.Scheme, u.Host, u.Fragment)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) != 4 {
			t.Fatalf("value %q: got path %q, want 3 segments", v, u.EscapedPath())
		}
		q := u.Query()
		if len(q) != 2 || q.Get("client_id") != v || q.Get("scope") != "read" {
			t.Fatalf("value %q: got query %v, want client_id and scope only, intact", v, q)
		}
	}
	for _, bad := range []string{"evil.com/", "a.b", "user@x", "", "x:80", "-lead", "a b", "a\nb"} {
		_, err := tp.Render(map[string]string{"shop": bad, "section": "s", "client_id": "c"})
		if err == nil || !strings.Contains(err.Error(), "host") || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Errorf("host value %q: got %v, want a host error that does not quote the value", bad, err)
		}
	}
}

func TestURLTemplatesMustFixSchemeAndHost(t *testing.T) {
	for _, src := range []string{"{{base}}/token", "{{scheme}}://example.com", "https://{{user}}@example.com/", "ftp://example.com/x", "/relative"} {
		if _, err := Compile("token_url", src, URL); err == nil {
			t.Errorf("%q: got no error, want one", src)
		}
	}
	tp := MustCompile("u", "http://127.0.0.1:{{port}}/x", URL)
	if _, err := tp.Render(map[string]string{"port": "80/evil"}); err == nil {
		t.Error("port value with a path: got no error, want one")
	}
}

func TestHeaderValuesCannotAddHeaders(t *testing.T) {
	tp := MustCompile("Authorization", "Bearer {{access_token}}", Header)
	if got, err := tp.Render(map[string]string{"access_token": "abc"}); err != nil || got != "Bearer abc" {
		t.Fatalf("got %q %v, want Bearer abc", got, err)
	}
	for _, v := range []string{"a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00"} {
		if _, err := tp.Render(map[string]string{"access_token": v}); err == nil {
			t.Errorf("value %q: got no error, want one", v)
		} else if strings.Contains(err.Error(), "Evil") {
			t.Errorf("value %q: the error quotes the value: %v", v, err)
		}
	}
	if _, err := Compile("h", "a\r\nX-Evil: {{x}}", Header); err == nil {
		t.Error("header template with a line break: got no error, want one")
	}
}

func TestMissingValuesAreNamed(t *testing.T) {
	tp := MustCompile("b", seedRefreshBody, JSONBody)
	_, err := tp.Render(map[string]string{})
	var mv *MissingValueError
	if !errors.As(err, &mv) || mv.Name != "refresh_token" {
		t.Fatalf("got %v, want a missing refresh_token", err)
	}
}

func TestUnsafeOrUnboundedConstructsAreRefused(t *testing.T) {
	for _, src := range []string{
		`{"a": "{{ range $i := until 100000000 }}x{{ end }}"}`,
		`{"a": "{{ range 1000000000 }}{{ end }}"}`,
		`{"a": {{ repeat 100000000 "x" }}}`,
		`{"a": {{ env "HOME" }}}`,
		`{"a": {{ genPrivateKey "rsa" }}}`,
		`{"a": {{ bcrypt "x" }}}`,
		`{{ define "x" }}{{ end }}{"a": 1}`,
		`{"a": {{ template "x" }}}`,
		`{"a": "unclosed}`,
		`{"a": {{ .x }`,
		`not json {{x}}`,
	} {
		if _, err := Compile("t", src, JSONBody); err == nil {
			t.Errorf("%s: got no error, want one", src)
		}
	}
}

func TestRenderingIsBoundedInSize(t *testing.T) {
	// Straight-line doubling: each step doubles, so without a cap 40 steps
	// would need a terabyte.
	src := `{{ $a := .x }}` + strings.Repeat(`{{ $a = cat $a $a }}`, 40) + `{"a": {{ $a }}}`
	// The trial render at compile time already meets the cap.
	if _, err := Compile("t", src, JSONBody); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("doubling template: got %v, want the size cap at compile time", err)
	}
	// Growth that depends on a value meets it at render time.
	tp := MustCompile("t", `{"a": {{ trunc 70000 (cat .x .x .x .x .x .x .x .x) }}}`, JSONBody)
	if _, err := tp.Render(map[string]string{"x": strings.Repeat("y", 10000)}); err == nil {
		t.Fatal("an 80 KB value: got no error, want the size cap")
	}
	if _, err := Compile("t", `{"a": {{ printf "%0999999999d" 1 }}}`, JSONBody); err == nil {
		t.Fatal("printf with a huge width: got no error, want one")
	}
}

func BenchmarkRenderJSONBody(b *testing.B) {
	tp := MustCompile("request_body", seedRequestBody, JSONBody)
	vals := map[string]string{"auth_code": "4724469134.4644010092847.232b4e6d", "client_id": "2141029472.691202649728", "client_secret": "e1b9e11dfcd19c1982d5de12921e17e8c"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.RenderParams(vals); err != nil {
			b.Fatal(err)
		}
	}
}
