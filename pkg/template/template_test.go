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
	"\x00nul", "ünïcødé ✓", "</script>", "%2F%0A", "\u2028\u2029", "}", "]", "{", "\x1f\x7f", strings.Repeat("long", 1000),
}

// secret is a value that must never appear in an error.
const secret = "s3cr3t-VALUE"

func mustRenderObject(tb testing.TB, tp *Template, vals map[string]string) map[string]any {
	tb.Helper()
	out, err := tp.Render(vals)
	if err != nil {
		tb.Fatalf("Render: %v", err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		tb.Fatalf("got invalid JSON %q: %v", out, err)
	}
	return obj
}

func sortedKeys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// wantCompileError checks that Compile fails with a message holding every
// part of want.
func wantCompileError(tb testing.TB, src string, ctx Context, want ...string) {
	tb.Helper()
	_, err := Compile("t", src, ctx)
	if err == nil {
		tb.Errorf("%s: got no error, want one containing %q", src, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			tb.Errorf("%s: got error %q, want it to contain %q", src, err, w)
		}
	}
}

func TestSeedBodiesRenderValidJSONWhateverTheValues(t *testing.T) {
	req := MustCompile("request_body", seedRequestBody, JSONBody)
	ref := MustCompile("refresh_token_body", seedRefreshBody, JSONBody)
	if got := strings.Join(req.Vars(), ","); got != "auth_code,client_id,client_secret" {
		t.Fatalf("got vars %s, want auth_code,client_id,client_secret", got)
	}
	for _, v := range hostile {
		obj := mustRenderObject(t, req, map[string]string{"auth_code": v, "client_id": v, "client_secret": v})
		if got := strings.Join(sortedKeys(obj), ","); got != "client_id,client_secret,code,grant_type,redirect_uri" {
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

func TestJSONValuesCannotAddKeysOrChangeStructure(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"value position", `{"a": {{x}}, "b": [{{x}}, {"c": {{x}}}]}`},
		{"inside a string", `{"a": "pre {{x}} post", "b": ["{{x}}"]}`},
		{"go syntax", `{"a": {{ .x | lower }}, "b": "{{ $.x }}"}`},
		{"conditional member", `{ {{ if .x }}"a": {{x}}, {{ end }}"b": "c"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := MustCompile("t", tc.src, JSONBody)
			base := mustRenderObject(t, tp, map[string]string{"x": "plain"})
			for _, v := range hostile {
				got := mustRenderObject(t, tp, map[string]string{"x": v})
				gotJSON, _ := json.Marshal(sortedKeys(got))
				wantJSON, _ := json.Marshal(sortedKeys(base))
				if v != "" && string(gotJSON) != string(wantJSON) {
					t.Fatalf("value %q: got keys %s, want %s", v, gotJSON, wantJSON)
				}
			}
		})
	}
}

func TestJSONActionsAreStrings(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{"a": {{ .x | upper }}}`, `{"a": "ABC"}`},
		{`{"a": {{ x | upper }}}`, `{"a": "ABC"}`},
		{`{"a": "{{ .x }}-{{ b64enc .x }}"}`, `{"a": "abc-YWJj"}`},
		{`{"a": {{ if eq .x "abc" }}"yes"{{ else }}"no"{{ end }}}`, `{"a": "yes"}`},
		{`{"n": {{ len .x }}}`, `{"n": "3"}`},
		{`{"sub": {{sub}}}`, `{"sub": "s"}`},
		{`{"q": "{{x}}\n"}`, `{"q": "abc\n"}`},
		{`{"l": {{ splitList "," "a,b" | join " " }}}`, `{"l": "a b"}`},
		{`{"r": [{{ range $i, $s := splitList "," "a,b" }}{{ $s }}, {{ end }}"z"]}`, `{"r": ["a", "b", "z"]}`},
		{`{"w": {{ with .x }}{{ . | upper }}{{ else }}"none"{{ end }}}`, `{"w": "ABC"}`},
	} {
		tp, err := Compile("t", tc.src, JSONBody)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := tp.Render(map[string]string{"x": "abc", "sub": "s"})
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestJSONTemplatesAreCheckedAtCompile(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{ {{x}}: 1}`, "object key"},
		{`{"{{x}}": 1}`, "object key"},
		{`{"a": 1{{x}}}`, "number"},
		{`{"a": "b" {{x}}}`, "','"},
		{`{"a": "\{{x}}"}`, "backslash"},
		{`{{x}}`, "outside the JSON object"},
		{`{"a": 1} {{x}}`, "outside the JSON object"},
		{`{"a": {{ if .x }}"b"{{ end }}}`, "branches of if"},
		{`{"a": "unclosed}`, "not complete"},
		{`{"a": tru}`, "not valid JSON"},
		{`[1]`, "one JSON object"},
		{`not json {{x}}`, "one JSON object"},
		{``, "one JSON object"},
		{`{"a": {{ .x }`, "unexpected"},
	} {
		wantCompileError(t, tc.src, JSONBody, tc.want)
	}
}

func TestRenderParamsSortsByKeyAndKeepsTypes(t *testing.T) {
	tp := MustCompile("b", `{"b": {{x}}, "a": 1, "c": true, "d": null, "e": {"n": [1, 2]}, "f": "{{x}}-y"}`, JSONBody)
	params, err := tp.RenderParams(map[string]string{"x": `q"`})
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"a", "1"}, {"b", `q"`}, {"c", "true"}, {"d", ""}, {"e", `{"n":[1,2]}`}, {"f", `q"-y`}}
	if len(params) != len(want) {
		t.Fatalf("got %v, want %v", params, want)
	}
	for i := range want {
		if params[i] != want[i] {
			t.Errorf("param %d: got %v, want %v", i, params[i], want[i])
		}
	}
	if _, err := MustCompile("h", "x", Header).RenderParams(nil); err == nil {
		t.Error("RenderParams on a header template: got no error, want one")
	}
}

func TestURLValuesCannotChangeTheURLsShape(t *testing.T) {
	tp := MustCompile("link_url", "https://{{shop}}.myshopify.com/admin/{{section}}/authorize?client_id={{client_id}}&scope=a+b#{{frag}}", URL)
	for _, v := range hostile {
		out, err := tp.Render(map[string]string{"shop": "acme", "section": v, "client_id": v, "frag": v})
		if err != nil {
			t.Fatalf("value %q in path, query and fragment: %v", v, err)
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("value %q: got unparsable %q", v, out)
		}
		if u.Host != "acme.myshopify.com" || u.Scheme != "https" || u.Fragment != v {
			t.Fatalf("value %q: got %s://%s#%s, want https://acme.myshopify.com and the value as fragment", v, u.Scheme, u.Host, u.Fragment)
		}
		if segs := strings.Split(u.EscapedPath(), "/"); len(segs) != 4 || u.Path != "/admin/"+v+"/authorize" {
			t.Fatalf("value %q: got path %q, want 3 segments with the value intact", v, u.EscapedPath())
		}
		q := u.Query()
		if len(q) != 2 || q.Get("client_id") != v || q.Get("scope") != "a b" {
			t.Fatalf("value %q: got query %v, want client_id and scope only, intact", v, q)
		}
	}
}

func TestURLHostValuesMustBeOneLabel(t *testing.T) {
	tp := MustCompile("token_url", "https://{{app_name}}.slingrs.io/{{env}}/runtime/api/oauth/token", URL)
	got, err := tp.Render(map[string]string{"app_name": "acme-1", "env": "prod"})
	if want := "https://acme-1.slingrs.io/prod/runtime/api/oauth/token"; err != nil || got != want {
		t.Fatalf("got %q (%v), want %q", got, err, want)
	}
	for _, bad := range []string{"evil.com/", "a.b", "user@x", "", "x:80", "a b", "a\nb", "a#b", "a?b", "a&b", strings.Repeat("a", 64), secret + "."} {
		_, err := tp.Render(map[string]string{"app_name": bad, "env": "prod"})
		if err == nil || !strings.Contains(err.Error(), "host") || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Errorf("host value %q: got %v, want a host error that does not quote the value", bad, err)
		}
	}
	for _, v := range []string{".", ".."} {
		if _, err := tp.Render(map[string]string{"app_name": "acme", "env": v}); err == nil {
			t.Errorf("path value %q: got no error, want one", v)
		}
	}
}

func TestURLTemplatesMustFixSchemeAndHost(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{{base}}/token", "before the host"},
		{"{{scheme}}://example.com", "before the host"},
		{"https://{{user}}@example.com/", "user information"},
		{"https://user@example.com/", "user information"},
		{"ftp://example.com/x", "http or https"},
		{"/relative", "absolute URL"},
		{"https:/x", "'//'"},
		{"http://127.0.0.1:{{port}}/x", "port"},
		{"https://exa mple.com/", "spaces"},
		{"https:///path/{{x}}", "host"},
		{"https://example.com/{{ if .x }}?a=b{{ end }}", "branches of if"},
	} {
		wantCompileError(t, tc.src, URL, tc.want)
	}
	tp := MustCompile("u", "http://127.0.0.1:9090/authorize?client_id={{client_id}}", URL)
	if got, err := tp.Render(map[string]string{"client_id": "a b&c"}); err != nil || got != "http://127.0.0.1:9090/authorize?client_id=a+b%26c" {
		t.Errorf("got %q (%v), want the query value escaped", got, err)
	}
}

func TestHeaderValuesCannotAddHeaders(t *testing.T) {
	tp := MustCompile("Authorization", "Bearer {{access_token}}", Header)
	if got, err := tp.Render(map[string]string{"access_token": "abc\tdef"}); err != nil || got != "Bearer abc\tdef" {
		t.Fatalf("got %q %v, want Bearer abc<tab>def", got, err)
	}
	for _, v := range []string{"a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00", "a\x7f"} {
		if _, err := tp.Render(map[string]string{"access_token": v}); err == nil {
			t.Errorf("value %q: got no error, want one", v)
		} else if strings.Contains(err.Error(), "Evil") {
			t.Errorf("value %q: the error quotes the value: %v", v, err)
		}
	}
	wantCompileError(t, "a\r\nX-Evil: {{x}}", Header, "CR")
	text := MustCompile("client_id", "{{client_id}}", Text)
	if _, err := text.Render(map[string]string{"client_id": "a\nb"}); err == nil {
		t.Error("text value with LF: got no error, want one")
	}
	if got, err := text.Render(map[string]string{"client_id": `a"b\x7f`}); err != nil || got != `a"b\x7f` {
		t.Errorf("got %q (%v), want the text value as is", got, err)
	}
}

func TestMissingValuesAreNamed(t *testing.T) {
	for _, tc := range []struct {
		src  string
		ctx  Context
		want string
	}{
		{seedRefreshBody, JSONBody, "refresh_token"},
		{"Bearer {{ .access_token }}", Header, "access_token"},
		{"{{ if $.flag }}x{{ end }}", Text, "flag"},
		{"{{ upper scope }}", Text, "scope"},
		{"https://example.com/?a={{ printf `%s` .a }}", URL, "a"},
	} {
		tp := MustCompile("t", tc.src, tc.ctx)
		_, err := tp.Render(map[string]string{"other": secret})
		var mv *MissingValueError
		if !errors.As(err, &mv) || mv.Name != tc.want {
			t.Errorf("%s: got %v, want a missing %s", tc.src, err, tc.want)
		}
	}
}

func TestVarsListsReferencedValues(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{{b}}{{a}}{{ .c }}{{ $.d }}{{ .a | upper }}", "a,b,c,d"},
		{"{{ if .x }}{{ with .y }}{{ .inner }}{{ end }}{{ end }}", "x,y"},
		{"{{ $v := .x }}{{ $v }}{{ range $i, $e := splitList \",\" .list }}{{ $.z }}{{ end }}", "list,x,z"},
		{"no values", ""},
	} {
		tp := MustCompile("t", tc.src, Text)
		if got := strings.Join(tp.Vars(), ","); got != tc.want {
			t.Errorf("%s: got vars %q, want %q", tc.src, got, tc.want)
		}
		if tp.Source() != tc.src {
			t.Errorf("got source %q, want %q", tp.Source(), tc.src)
		}
	}
}

func TestUnsafeOrUnboundedConstructsAreRefused(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{{ range $i := until 100000000 }}x{{ end }}`, `"until" is not allowed`},
		{`{{ range 1000000000 }}{{ end }}`, "range over an integer literal"},
		{`{{ range (1000000000) }}{{ end }}`, "range over an integer literal"},
		{`{{ repeat 100000000 "x" }}`, `"repeat" is not allowed`},
		{`{{ seq 1 100000 }}`, `"seq" is not allowed`},
		{`{{ env "HOME" }}`, `function "env" not defined`},
		{`{{ expandenv "$HOME" }}`, `function "expandenv" not defined`},
		{`{{ genPrivateKey "rsa" }}`, `"genPrivateKey" is not allowed`},
		{`{{ bcrypt "x" }}`, `"bcrypt" is not allowed`},
		{`{{ derivePassword 1 "long" "p" "u" "s" }}`, `"derivePassword" is not allowed`},
		{`{{ $d := dict }}{{ set $d "k" $d }}`, `"set" is not allowed`},
		{`{{ call .x }}`, `"call" is not allowed`},
		{`{{ define "x" }}{{ end }}a`, "define"},
		{`{{ block "x" . }}{{ end }}`, "define"},
		{`{{ template "x" }}`, "template"},
		{`{{ _lk_json_value "" "x" }}`, "reserved"},
		{`{{ . }}`, "{{.}}"},
		{`{{ $ }}`, "$ is not a value"},
		{`{{ .a.b }}`, "no fields"},
		{`{{ .x "arg" }}`, "not a function"},
		{`{{ upper | lower }}`, "needs arguments"},
		{`{{ .x | nosuch }}`, `function "nosuch" not defined`},
		{strings.Repeat("x", MaxSource+1), "longer than"},
	} {
		wantCompileError(t, tc.src, Text, tc.want)
	}
}

func TestRenderingIsBounded(t *testing.T) {
	// Straight-line doubling: without a cap 40 steps would need a terabyte.
	doubling := `{{ $a := .x }}` + strings.Repeat(`{{ $a = cat $a $a }}`, 40) + `{"a": {{ $a }}}`
	wantCompileError(t, doubling, JSONBody, "exceeds")
	for _, tc := range []struct {
		name, src string
		x         string
		want      string
	}{
		{"output", `{{ range splitList "," .x }}{{ $.x }}{{ end }}`, strings.Repeat(",", 1000), "the result exceeds"},
		{"function result", `{{ trunc 70000 (cat .x .x .x .x .x .x .x .x) }}`, strings.Repeat("y", 10000), "function result exceeds"},
		{"iterations", `{{ range (atoi .x) }}{{ end }}`, "1000000000", "range iterations"},
		{"nested iterations", `{{ range $a := splitList "," .x }}{{ range splitList "," $.x }}{{ end }}{{ end }}`, strings.Repeat(",", 200), "range iterations"},
		{"list doubling", `{{ $l := list 1 }}{{ range splitList "," .x }}{{ $l = list $l $l }}{{ end }}{{ len $l }}`, strings.Repeat(",", 40), "exceeds"},
		{"join", `{{ $l := splitList "," .x }}{{ join .x $l }}`, strings.Repeat(",", 5000), "exceeds"},
		{"replace", `{{ replace "" .x .x }}`, strings.Repeat("y", 5000), "exceeds"},
		{"printf width", `{{ printf "%0999999999d" 1 }}`, "", "widths"},
		{"printf star", `{{ printf "%*d" 100000000 1 }}`, "", "'*'"},
		{"function error", `{{ mustFromJson .x }}`, secret, "details withheld"},
		{"fail", `{{ fail .x }}`, secret, "details withheld"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := MustCompile("t", tc.src, Text)
			_, err := tp.Render(map[string]string{"x": tc.x})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || (len(tc.x) > 3 && strings.Contains(err.Error(), tc.x)) {
				t.Fatalf("got %v, want an error without the value", err)
			}
		})
	}
}

func TestCuratedFuncs(t *testing.T) {
	names := map[string]bool{}
	for _, n := range FuncNames() {
		names[n] = true
	}
	for _, n := range nonHermetic {
		if names[n] {
			t.Errorf("got non-hermetic %q in the function map, want it absent", n)
		}
	}
	for n := range dropped {
		if names[n] {
			t.Errorf("got dropped %q in the function map, want it absent", n)
		}
	}
	for _, n := range []string{"upper", "b64enc", "sha256sum", "default", "printf", "eq", "splitList", "join", "toJson"} {
		if !names[n] {
			t.Errorf("got no %q, want it offered", n)
		}
	}
}

func TestRangeBreakAndContinue(t *testing.T) {
	tp := MustCompile("t", `{{ range $i, $e := splitList "," .x }}{{ if eq $e "stop" }}{{ break }}{{ end }}{{ if eq $e "skip" }}{{ continue }}{{ end }}{{ $e }};{{ end }}`, Text)
	if got, err := tp.Render(map[string]string{"x": "a,skip,b,stop,c"}); err != nil || got != "a;b;" {
		t.Errorf("got %q (%v), want %q", got, err, "a;b;")
	}
	wantCompileError(t, `{"a": [{{ range splitList "," .x }}{{ if . }}"a"{{ break }}{{ end }}{{ end }}"z"]}`, JSONBody, "break")
}

func TestErrorsNameTheTemplateNotTheValue(t *testing.T) {
	tp := MustCompile("request_body", `{"a": {{ index (splitList "," .x) 5 }}}`, JSONBody)
	_, err := tp.Render(map[string]string{"x": secret + "," + secret})
	if err == nil || !strings.Contains(err.Error(), `"request_body"`) || strings.Contains(err.Error(), secret) {
		t.Fatalf("got %v, want an error naming request_body without the value", err)
	}
	if !strings.Contains(err.Error(), "line 1, column") {
		t.Errorf("got %v, want the place in the template", err)
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

func TestFlatBodiesTakeTheFastPathWithTheSameResult(t *testing.T) {
	for _, tc := range []struct {
		src  string
		plan bool
	}{
		{seedRequestBody, true},
		{seedRefreshBody, true},
		{`{"a": "x-{{v}}-y", "n": 1, "b": true, "o": {"k": [1]}, "z": null}`, true},
		{`{"a": {{ .v | upper }}}`, false},
		{`{"a": {"nested": {{v}}}}`, false},
		{`{"a": {{ if .v }}"y"{{ else }}"n"{{ end }}}`, false},
	} {
		tp := MustCompile("b", tc.src, JSONBody)
		if got := tp.plan != nil; got != tc.plan {
			t.Errorf("%s: got plan %v, want %v", tc.src, got, tc.plan)
		}
		for _, v := range hostile {
			vals := map[string]string{}
			for _, name := range tp.Vars() {
				vals[name] = v
			}
			fast, err1 := tp.RenderParams(vals)
			slow, err2 := tp.renderParams(vals)
			if (err1 == nil) != (err2 == nil) || len(fast) != len(slow) {
				t.Fatalf("%s with %q: got %v (%v), want %v (%v)", tc.src, v, fast, err1, slow, err2)
			}
			for i := range fast {
				if fast[i] != slow[i] {
					t.Fatalf("%s with %q: param %d: got %q, want %q", tc.src, v, i, fast[i], slow[i])
				}
			}
		}
	}
	var mv *MissingValueError
	if _, err := MustCompile("b", seedRefreshBody, JSONBody).RenderParams(nil); !errors.As(err, &mv) || mv.Name != "refresh_token" {
		t.Fatalf("fast path, missing value: got %v, want refresh_token named", err)
	}
}
