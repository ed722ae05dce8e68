package latchkey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// An app document read from a file follows the addresses of the machine it
// runs on through ${NAME} references, and leaves every other $ alone.
func TestExpandVariables(t *testing.T) {
	env := map[string]string{"PROVIDER_URL": "http://127.0.0.1:9191", "EMPTY": ""}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	for _, tc := range []struct{ name, in, want string }{
		{"set", "token_url: ${PROVIDER_URL}/token", "token_url: http://127.0.0.1:9191/token"},
		{"set over the default", "url: ${PROVIDER_URL:-http://127.0.0.1:9090}/x", "url: http://127.0.0.1:9191/x"},
		{"unset takes the default", "url: ${OTHER_URL:-http://127.0.0.1:9090}/x", "url: http://127.0.0.1:9090/x"},
		{"empty takes the default", "url: ${EMPTY:-http://a.example}", "url: http://a.example"},
		{"an empty default", "scope: '${OTHER:-}'", "scope: ''"},
		{"JSONPath and template variables stay", `path: $.access_token
body: '{{ $x := .code }}{{$x}}'
cond: $.ok`, `path: $.access_token
body: '{{ $x := .code }}{{$x}}'
cond: $.ok`},
		{"the escape", "note: $${PROVIDER_URL}", "note: ${PROVIDER_URL}"},
		{"no reference", "name: demo\n", "name: demo\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := latchkey.ExpandVariables([]byte(tc.in), lookup)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// An unset variable without a default is an error naming it and its line,
// never an empty string quietly put into a URL.
func TestExpandVariablesUnset(t *testing.T) {
	in := "name: demo\nlink_url: ${NOPE}/authorize\ntoken_url: ${NOPE}/token\napi: ${ALSO_NOPE}\n"
	_, err := latchkey.ExpandVariables([]byte(in), func(string) (string, bool) { return "", false })
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.EINVALID {
		t.Fatalf("got %v, want an %s error", err, latchkey.EINVALID)
	}
	if len(le.Fields) != 2 || le.Fields[0].Field != "${NOPE}" || !strings.Contains(le.Fields[0].Message, "line 2") ||
		le.Fields[1].Field != "${ALSO_NOPE}" || !strings.Contains(le.Fields[1].Message, "line 4") {
		t.Errorf("got fields %+v, want ${NOPE} on line 2 and ${ALSO_NOPE} on line 4", le.Fields)
	}
}
