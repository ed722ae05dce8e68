package template

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// lexState is the lexical state of the literal text at a point of a template.
// Two states are equal when the text may continue in the same ways.
type lexState struct {
	mode  uint8
	sub   uint8  // JSON: string escape progress
	key   bool   // JSON: the string is an object key
	stack string // JSON: open containers ('o' or 'a'); URL: the scheme so far
}

// analyzer follows one Context's lexical state.
type analyzer interface {
	start() lexState
	// text advances the state over literal text; at reports where byte i is.
	text(st lexState, s string, at func(i int) string) (lexState, error)
	// action returns the escaping function for an action in state st and the
	// state after it.
	action(st lexState) (esc string, next lexState, err error)
	// end checks the state at the end of the template.
	end(st lexState) error
}

func analyzerFor(ctx Context) analyzer {
	switch ctx {
	case JSONBody:
		return jsonAnalyzer{}
	case URL:
		return urlAnalyzer{}
	}
	return textAnalyzer{header: ctx == Header, any: ctx == Value}
}

// textAnalyzer handles Text and Header: no escaping, no CR, LF or NUL; and
// Value: no escaping, any byte.
type textAnalyzer struct{ header, any bool }

func (textAnalyzer) start() lexState { return lexState{} }

func (a textAnalyzer) text(st lexState, s string, at func(int) string) (lexState, error) {
	for i := 0; i < len(s) && !a.any; i++ {
		if badTextByte(s[i], a.header) {
			return st, fmt.Errorf("%s: control character %s in the literal text", at(i), ctlName(s[i]))
		}
	}
	return st, nil
}

func (textAnalyzer) action(st lexState) (string, lexState, error) { return "", st, nil }
func (textAnalyzer) end(lexState) error                           { return nil }

// badTextByte reports whether c may not appear in a rendered Text (CR, LF,
// NUL) or Header (any control character but tab).
func badTextByte(c byte, header bool) bool {
	if c == '\r' || c == '\n' || c == 0 {
		return true
	}
	return header && (c < 0x20 && c != '\t' || c == 0x7f)
}

func ctlName(c byte) string {
	switch c {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	case 0:
		return "NUL"
	}
	return fmt.Sprintf("0x%02X", c)
}

// JSON modes.
const (
	jStart  uint8 = iota // before the object
	jObjKey              // a key or '}' expected
	jColon               // ':' expected
	jValue               // a value expected (or ']' in an array)
	jAfter               // ',' or a closing bracket expected
	jLit                 // inside a number, true, false or null
	jStr                 // inside a string
	jDone                // after the object
)

// jsonAnalyzer follows the JSON grammar of a request body template.
type jsonAnalyzer struct{}

func (jsonAnalyzer) start() lexState { return lexState{mode: jStart} }

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (jsonAnalyzer) text(st lexState, s string, at func(int) string) (lexState, error) {
	fail := func(i int, msg string) (lexState, error) {
		return st, fmt.Errorf("%s: JSON syntax: %s", at(i), msg)
	}
	pop := func() {
		st.stack = st.stack[:len(st.stack)-1]
		if st.stack == "" {
			st.mode = jDone
		} else {
			st.mode = jAfter
		}
	}
	top := func() byte {
		if st.stack == "" {
			return 0
		}
		return st.stack[len(st.stack)-1]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch st.mode {
		case jStart:
			switch {
			case isJSONSpace(c):
			case c == '{':
				st.stack, st.mode = "o", jObjKey
			default:
				return fail(i, "a request body must be one JSON object")
			}
		case jObjKey:
			switch {
			case isJSONSpace(c):
			case c == '"':
				st.mode, st.key, st.sub = jStr, true, 0
			case c == '}':
				pop()
			default:
				return fail(i, "expected a quoted key or '}'")
			}
		case jColon:
			switch {
			case isJSONSpace(c):
			case c == ':':
				st.mode = jValue
			default:
				return fail(i, "expected ':' after a key")
			}
		case jValue:
			switch {
			case isJSONSpace(c):
			case c == '"':
				st.mode, st.key, st.sub = jStr, false, 0
			case c == '{':
				st.stack += "o"
				st.mode = jObjKey
			case c == '[':
				st.stack += "a"
				st.mode = jValue
			case c == ']' && top() == 'a':
				pop()
			case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
				st.mode = jLit
			default:
				return fail(i, "expected a value")
			}
		case jLit:
			if c == '.' || c == '+' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				continue
			}
			st.mode = jAfter
			i--
		case jAfter:
			switch {
			case isJSONSpace(c):
			case c == ',' && top() == 'o':
				st.mode = jObjKey
			case c == ',' && top() == 'a':
				st.mode = jValue
			case c == '}' && top() == 'o', c == ']' && top() == 'a':
				pop()
			default:
				return fail(i, "expected ',' or a closing bracket")
			}
		case jStr:
			switch st.sub {
			case 0:
				switch {
				case c == '"':
					if st.key {
						st.mode = jColon
					} else {
						st.mode = jAfter
					}
					st.key = false
				case c == '\\':
					st.sub = 1
				case c < 0x20:
					return fail(i, "control character in a string")
				}
			case 1:
				switch {
				case c == 'u':
					st.sub = 2
				case strings.IndexByte(`"\/bfnrt`, c) >= 0:
					st.sub = 0
				default:
					return fail(i, "invalid escape in a string")
				}
			default:
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
					return fail(i, "invalid \\u escape in a string")
				}
				st.sub++
				if st.sub == 6 {
					st.sub = 0
				}
			}
		case jDone:
			if !isJSONSpace(c) {
				return fail(i, "text after the end of the object")
			}
		}
	}
	return st, nil
}

func (jsonAnalyzer) action(st lexState) (string, lexState, error) {
	switch st.mode {
	case jValue:
		st.mode = jAfter
		return escJSONValue, st, nil
	case jStr:
		switch {
		case st.key:
			return "", st, fmt.Errorf("a value cannot be used in an object key")
		case st.sub != 0:
			return "", st, fmt.Errorf("a value cannot be used inside a backslash escape")
		}
		return escJSONString, st, nil
	case jObjKey:
		return "", st, fmt.Errorf("a value cannot be used as an object key")
	case jStart, jDone:
		return "", st, fmt.Errorf("a value cannot be used outside the JSON object")
	case jLit:
		return "", st, fmt.Errorf("a value cannot be part of a number or literal; use it as a whole value or inside a string")
	}
	return "", st, fmt.Errorf("a value cannot be used here (a ',' or ':' is missing before it)")
}

func (jsonAnalyzer) end(st lexState) error {
	switch st.mode {
	case jDone:
		return nil
	case jStart:
		return fmt.Errorf("a request body must be one JSON object")
	}
	return fmt.Errorf("JSON syntax: the object is not complete at the end of the template")
}

// URL modes.
const (
	uScheme uint8 = iota
	uSlash1
	uSlash2
	uHost
	uIPv6
	uPort
	uPath
	uQueryKey
	uQueryValue
	uFragment
)

// urlAnalyzer follows the parts of an absolute http(s) URL (RFC 3986 §3).
type urlAnalyzer struct{}

func (urlAnalyzer) start() lexState { return lexState{mode: uScheme} }

func (urlAnalyzer) text(st lexState, s string, at func(int) string) (lexState, error) {
	fail := func(i int, msg string) (lexState, error) {
		return st, fmt.Errorf("%s: URL: %s", at(i), msg)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			return fail(i, "spaces and control characters must be escaped")
		}
		switch st.mode {
		case uScheme:
			switch {
			case c == ':':
				if st.stack != "http" && st.stack != "https" {
					return fail(i, "the scheme must be http or https")
				}
				st.mode, st.stack = uSlash1, ""
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.':
				if len(st.stack) >= 5 {
					return fail(i, "the scheme must be http or https")
				}
				st.stack += strings.ToLower(string(c))
			default:
				return fail(i, "expected an absolute URL starting with https://")
			}
		case uSlash1, uSlash2:
			if c != '/' {
				return fail(i, "expected '//' after the scheme")
			}
			st.mode++
		case uHost:
			switch {
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.':
			case c == '[':
				st.mode = uIPv6
			case c == ':':
				st.mode = uPort
			case c == '/':
				st.mode = uPath
			case c == '?':
				st.mode = uQueryKey
			case c == '#':
				st.mode = uFragment
			case c == '@':
				return fail(i, "user information (user@host) is not allowed")
			default:
				return fail(i, "invalid character in the host")
			}
		case uIPv6:
			switch {
			case c == ']':
				st.mode = uHost
			case c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.':
			default:
				return fail(i, "invalid character in an IPv6 address")
			}
		case uPort:
			switch {
			case c >= '0' && c <= '9':
			case c == '/':
				st.mode = uPath
			case c == '?':
				st.mode = uQueryKey
			case c == '#':
				st.mode = uFragment
			default:
				return fail(i, "invalid character in the port")
			}
		case uPath:
			switch c {
			case '?':
				st.mode = uQueryKey
			case '#':
				st.mode = uFragment
			}
		case uQueryKey, uQueryValue:
			switch c {
			case '=':
				st.mode = uQueryValue
			case '&':
				st.mode = uQueryKey
			case '#':
				st.mode = uFragment
			}
		}
	}
	return st, nil
}

func (urlAnalyzer) action(st lexState) (string, lexState, error) {
	switch st.mode {
	case uScheme, uSlash1, uSlash2:
		return "", st, fmt.Errorf("a value cannot be used before the host: the scheme and host must be literal text")
	case uHost:
		return escURLHost, st, nil
	case uIPv6:
		return "", st, fmt.Errorf("a value cannot be used in an IP address")
	case uPort:
		return "", st, fmt.Errorf("a value cannot be used in the port")
	case uPath:
		return escURLPath, st, nil
	case uQueryKey, uQueryValue:
		return escURLQuery, st, nil
	}
	return escURLFragment, st, nil
}

func (urlAnalyzer) end(st lexState) error {
	if st.mode < uHost {
		return fmt.Errorf("URL: expected an absolute URL starting with https:// and a host")
	}
	if st.mode == uIPv6 {
		return fmt.Errorf("URL: the IPv6 address is not closed")
	}
	return nil
}

// Names of the escaping functions Compile appends to actions.
const (
	escJSONValue   = reservedPrefix + "json_value"
	escJSONString  = reservedPrefix + "json_string"
	escURLHost     = reservedPrefix + "url_host"
	escURLPath     = reservedPrefix + "url_path"
	escURLQuery    = reservedPrefix + "url_query"
	escURLFragment = reservedPrefix + "url_fragment"
)

// escapers are the escaping functions. The first argument is the action's
// source text (for errors); the last is the pipeline's value.
var escapers = map[string]any{
	escJSONValue: func(src string, args ...any) (string, error) {
		s, err := jsonText(src, args)
		return `"` + s + `"`, err
	},
	escJSONString: func(src string, args ...any) (string, error) { return jsonText(src, args) },
	escURLHost: func(src string, args ...any) (string, error) {
		s := stringify(args)
		if !validLabel(s) {
			return "", &limitError{fmt.Sprintf("the value of {{%s}} in the host is not a host label (1 to 63 letters, digits or '-')", src)}
		}
		return s, nil
	},
	escURLPath:     func(_ string, args ...any) string { return url.PathEscape(stringify(args)) },
	escURLQuery:    func(_ string, args ...any) string { return url.QueryEscape(stringify(args)) },
	escURLFragment: func(_ string, args ...any) string { return url.PathEscape(stringify(args)) },
}

// jsonText is a value escaped for the inside of a JSON string. Invalid
// UTF-8, which JSON cannot carry (RFC 8259 §8.1), is refused with an error
// that names the value, never replaced unseen.
func jsonText(src string, args []any) (string, error) {
	s := stringify(args)
	if !utf8.ValidString(s) {
		return "", invalidUTF8(src)
	}
	return jsonEscape(s), nil
}

func invalidUTF8(src string) error {
	return &limitError{fmt.Sprintf("the value of {{%s}} is not valid UTF-8, which a JSON body cannot carry", src)}
}

// stringify is how a pipeline's value is printed: strings as is, nil as "".
func stringify(args []any) string {
	if len(args) == 1 {
		switch v := args[0].(type) {
		case string:
			return v
		case nil:
			return ""
		}
	}
	return fmt.Sprint(args...)
}

// validLabel reports whether s is one DNS label of letters, digits and '-'
// (RFC 1123 §2.1), 1 to 63 bytes long.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// jsonEscape escapes s for the inside of a JSON string (RFC 8259 §7):
// quotes, backslashes and control characters are escaped, U+2028 and U+2029
// too, and invalid UTF-8 becomes U+FFFD.
func jsonEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
