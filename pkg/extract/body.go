package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
)

// MaxBodySize is the most of a provider's answer that is read, 1 MiB, as in
// golang.org/x/oauth2. A token response is a few hundred bytes; anything
// near this size is not one.
const MaxBodySize = 1 << 20

// ErrBodyTooLarge is returned by ReadBody for an answer over MaxBodySize.
var ErrBodyTooLarge = errors.New("the answer is larger than 1 MiB")

// ReadBody reads r to its end, or fails with ErrBodyTooLarge once more than
// MaxBodySize bytes came. A read error is returned wrapped; it never holds
// the bytes read.
func ReadBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer after %d bytes: %w", len(b), err)
	}
	if len(b) > MaxBodySize {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// FormatError reports an answer that is not a token response in any shape
// ParseResponse knows. It names the declared content type and the size, and
// what the body looks like, never the body itself, which may hold a token.
type FormatError struct {
	ContentType string // the declared media type, or "" when none was sent
	Size        int    // the body's length in bytes
	Reason      string // what is wrong, such as "an HTML page"
}

// Error implements error.
func (e *FormatError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s (%s, %d bytes)", e.Reason, ct, e.Size)
}

// ParseResponse parses a token endpoint's answer into a JSON object
// (RFC 6749 §5.1 and §5.2). It follows the declared content type first:
// application/json and any +json type must hold a JSON object;
// application/x-www-form-urlencoded and text/plain hold a query string whose
// first value of each key becomes a string (golang.org/x/oauth2 does the
// same), or a JSON object when the body starts with '{'. When the content
// type is missing or lies, the body decides: JSON when it starts with '{',
// else a query string of key=value pairs. An HTML page, an empty body, a
// JSON value that is not an object, truncated JSON or any other text is a
// *FormatError.
//
// JSON numbers become float64, except integers too large for one, which stay
// json.Number so that their digits survive.
func ParseResponse(contentType string, body []byte) (map[string]any, error) {
	mt := mediaType(contentType)
	fail := func(reason string) (map[string]any, error) {
		return nil, &FormatError{ContentType: mt, Size: len(body), Reason: reason}
	}
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(trimmed) == 0 {
		return fail("an empty answer")
	}
	declaredJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	switch {
	case trimmed[0] == '{':
		return parseJSONObject(trimmed, fail)
	case declaredJSON && isJSONStart(trimmed[0]):
		if json.Valid(trimmed) {
			return fail("a JSON " + jsonKind(trimmed[0]) + ", not an object")
		}
		return fail("not valid JSON")
	case trimmed[0] == '<':
		if bytes.HasPrefix(trimmed, []byte("<?xml")) {
			return fail("an XML document, not a token response")
		}
		return fail("an HTML page, not a token response")
	}
	if doc, ok := parseQuery(trimmed); ok {
		return doc, nil
	}
	if declaredJSON {
		return fail("not valid JSON")
	}
	return fail("neither a JSON object nor a query string")
}

// mediaType returns the lower-case media type of a Content-Type header, or
// a cleaned prefix of it when it does not parse.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	if len(mt) > 100 || strings.ContainsFunc(mt, func(r rune) bool { return r < ' ' || r > '~' }) {
		return "an unreadable content type"
	}
	return mt
}

func isJSONStart(c byte) bool {
	return c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n'
}

func jsonKind(c byte) string {
	switch c {
	case '[':
		return "list"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// parseJSONObject decodes a body that starts with '{'. Errors say where the
// syntax broke, never which character was found there.
func parseJSONObject(b []byte, fail func(string) (map[string]any, error)) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return fail("truncated JSON")
		case errors.As(err, &se):
			return fail(fmt.Sprintf("not valid JSON (syntax error at byte %d)", se.Offset))
		}
		return fail("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("not valid JSON (more after the object)")
	}
	return normalize(doc).(map[string]any), nil
}

// normalize turns json.Number values into float64, which JSONPath
// comparisons understand, unless the number is an integer that float64
// cannot hold exactly.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case json.Number:
		s := x.String()
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return x
		}
		if !strings.ContainsAny(s, ".eE") && strconv.FormatFloat(f, 'f', -1, 64) != strings.TrimPrefix(s, "+") {
			return x // a large integer such as a 64-bit id: keep its digits
		}
		return f
	}
	return v
}

// parseQuery reads b as key=value pairs joined by '&'. It accepts only a
// body where every pair has an '=' and no key holds a space, so that a line
// of text ("Bad Gateway") is not mistaken for a key, which could then be
// shown in an error.
func parseQuery(b []byte) (map[string]any, bool) {
	s := string(b)
	for _, pair := range strings.Split(s, "&") {
		if pair == "" {
			continue
		}
		k, _, ok := strings.Cut(pair, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t<>\"") || strings.ContainsAny(pair, "\r\n") {
			return nil, false
		}
	}
	q, err := url.ParseQuery(s)
	if err != nil || len(q) == 0 {
		return nil, false
	}
	return QueryDocument(q), true
}

// QueryDocument turns query parameters, such as those of an authorization
// callback (RFC 6749 §4.1.2), into a JSON object that paths run over: each
// key maps to its first value, as a string.
func QueryDocument(q url.Values) map[string]any {
	doc := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 0 {
			doc[k] = ""
			continue
		}
		doc[k] = vs[0]
	}
	return doc
}
