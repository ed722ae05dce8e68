package extract

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBody(t *testing.T) {
	t.Run("exactly the limit", func(t *testing.T) {
		b, err := ReadBody(bytes.NewReader(make([]byte, MaxBodySize)))
		if err != nil || len(b) != MaxBodySize {
			t.Errorf("ReadBody(1 MiB): got (%d bytes, %v), want (%d bytes, nil)", len(b), err, MaxBodySize)
		}
	})
	t.Run("one byte over the limit", func(t *testing.T) {
		b, err := ReadBody(bytes.NewReader(make([]byte, MaxBodySize+1)))
		if !errors.Is(err, ErrBodyTooLarge) || b != nil {
			t.Errorf("ReadBody(1 MiB + 1): got (%d bytes, %v), want (nil, ErrBodyTooLarge)", len(b), err)
		}
	})
	t.Run("a token answer padded far past the limit", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(`{"access_token":"s3cr3t","pad":"`), strings.NewReader(strings.Repeat("x", 3*MaxBodySize)))
		_, err := ReadBody(r)
		if !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("ReadBody(3 MiB): got %v, want ErrBodyTooLarge", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ReadBody error: got %q, want no body content", err)
		}
	})
	t.Run("connection reset mid-body", func(t *testing.T) {
		cause := errors.New("connection reset by peer")
		r := io.MultiReader(strings.NewReader(`{"access_token":"s3cr3t"`), iotest.ErrReader(cause))
		_, err := ReadBody(r)
		if !errors.Is(err, cause) {
			t.Fatalf("ReadBody: got %v, want it to wrap %v", err, cause)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ReadBody error: got %q, want no body content", err)
		}
	})
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		want                    map[string]any
	}{
		{
			name:        "Slingr token answer (seed 000)",
			contentType: "application/json",
			body:        `{"access_token":"5HMxY4eBEK2xvmkATMCzSdJ0wTxMlSlF","refresh_token":"ZqUeuPwAezCZWpDQqjCW","token_type":"bearer","expires_in":28800,"scope":"scope1 scope2 scope3"}`,
			want: map[string]any{"access_token": "5HMxY4eBEK2xvmkATMCzSdJ0wTxMlSlF", "refresh_token": "ZqUeuPwAezCZWpDQqjCW",
				"token_type": "bearer", "expires_in": 28800.0, "scope": "scope1 scope2 scope3"},
		},
		{
			name:        "problem+json error with charset",
			contentType: "application/problem+json; charset=utf-8",
			body:        `{"error":"invalid_grant"}`,
			want:        map[string]any{"error": "invalid_grant"},
		},
		{
			name:        "GitHub form-encoded success",
			contentType: "application/x-www-form-urlencoded; charset=utf-8",
			body:        "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer",
			want:        map[string]any{"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "scope": "repo,gist", "token_type": "bearer"},
		},
		{
			name:        "text/plain query, first value wins, trailing newline",
			contentType: "text/plain",
			body:        "access_token=abc&expires_in=3600&scope=a+b&scope=ignored\n",
			want:        map[string]any{"access_token": "abc", "expires_in": "3600", "scope": "a b"},
		},
		{
			name:        "JSON sent as text/plain",
			contentType: "text/plain; charset=utf-8",
			body:        `{"access_token":"abc"}`,
			want:        map[string]any{"access_token": "abc"},
		},
		{
			name:        "JSON sent as text/html",
			contentType: "text/html",
			body:        "\n  {\"access_token\":\"abc\"}\n",
			want:        map[string]any{"access_token": "abc"},
		},
		{
			name:        "JSON with no content type and a byte-order mark",
			contentType: "",
			body:        "\xef\xbb\xbf{\"access_token\":\"abc\"}",
			want:        map[string]any{"access_token": "abc"},
		},
		{
			name:        "query sent as application/json",
			contentType: "application/json",
			body:        "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
			want:        map[string]any{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."},
		},
		{
			name:        "query with no content type",
			contentType: "",
			body:        "access_token=abc&token_type=bearer",
			want:        map[string]any{"access_token": "abc", "token_type": "bearer"},
		},
		{
			name:        "unparseable content type header",
			contentType: "application/json;;;=",
			body:        `{"access_token":"abc"}`,
			want:        map[string]any{"access_token": "abc"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResponse(tc.contentType, []byte(tc.body))
			if err != nil {
				t.Fatalf("ParseResponse: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseResponse: got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseResponseRejects(t *testing.T) {
	const secret = "s3cr3tTokenValue"
	for _, tc := range []struct {
		name, contentType, body string
		wantReason              string
	}{
		{"HTML error page under a JSON content type", "application/json",
			"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><a href=\"/x?a=" + secret + "\">retry</a></body></html>", "an HTML page"},
		{"XML answer", "application/xml", `<?xml version="1.0"?><token>` + secret + `</token>`, "an XML document"},
		{"truncated JSON", "application/json", `{"access_token":"` + secret + `","expires_in":36`, "truncated JSON"},
		{"broken JSON", "application/json", `{"access_token":"` + secret + `" "x":1}`, "not valid JSON (syntax error at byte"},
		{"two objects", "application/json", `{"access_token":"` + secret + `"}{"a":1}`, "more after the object"},
		{"JSON list", "application/json", `["` + secret + `"]`, "a JSON list, not an object"},
		{"JSON string", "application/json", `"` + secret + `"`, "a JSON string, not an object"},
		{"JSON null", "application/json", `null`, "a JSON null, not an object"},
		{"bare token as text/plain", "text/plain", secret, "neither a JSON object nor a query string"},
		{"text error page", "text/plain", "Bad Gateway: upstream " + secret + " failed", "neither a JSON object nor a query string"},
		{"garbage under JSON", "application/json", "\x00\x01" + secret, "not valid JSON"},
		{"empty body", "application/json", "", "an empty answer"},
		{"only whitespace", "", " \r\n\t", "an empty answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := ParseResponse(tc.contentType, []byte(tc.body))
			if err == nil {
				t.Fatalf("ParseResponse: got %#v, want an error", doc)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseResponse: got %T, want *FormatError", err)
			}
			if !strings.Contains(err.Error(), tc.wantReason) {
				t.Errorf("ParseResponse error: got %q, want it to contain %q", err, tc.wantReason)
			}
			if fe.Size != len(tc.body) {
				t.Errorf("FormatError.Size: got %d, want %d", fe.Size, len(tc.body))
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("ParseResponse error: got %q, want no body content", err)
			}
		})
	}
}

func TestFormatErrorNamesTheContentType(t *testing.T) {
	_, err := ParseResponse("text/html; charset=UTF-8", []byte("<html>Service Unavailable</html>"))
	if got, want := err.Error(), "an HTML page, not a token response (text/html, 32 bytes)"; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
	_, err = ParseResponse("", []byte("nope"))
	if got, want := err.Error(), "neither a JSON object nor a query string (no content type, 4 bytes)"; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
}

func TestQueryDocument(t *testing.T) {
	q := url.Values{"code": {"4724469134.464", "second"}, "state": {"xyz"}, "empty": {}}
	got := QueryDocument(q)
	want := map[string]any{"code": "4724469134.464", "state": "xyz", "empty": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("QueryDocument: got %#v, want %#v", got, want)
	}
	if code, ok := MustCompile("$.code").Lookup(t.Context(), got); code != "4724469134.464" || !ok {
		t.Errorf("Lookup($.code): got (%q, %v), want (%q, true)", code, ok, "4724469134.464")
	}
}
