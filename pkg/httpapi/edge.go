package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// The edge: every request input (the path, its parameters, the query, the
// headers used as keys, JSON bodies) is read and checked here, once, before
// a handler or the store sees it. A refused input is a 400 or 422 naming
// the field, never a database error.
//
// Paths are routed on their escaped form, each segment written the one
// canonical way (hex digits upper case, unreserved characters unescaped),
// so that "%2F" inside a segment stays inside it; every named parameter is
// then unescaped exactly once and checked against its grammar: app and
// config names against latchkey.NameRule, every other parameter (org and
// user ids, key and webhook ids, link tokens) against latchkey.IDRule.
// Query parameter names are one line of text; ?org= is an id, ?app= a
// name, ?actor= one line, any other value UTF-8 without NUL.
// Handlers read parameters with c.Param and get the decoded, checked value.
// A wildcard parameter ("*") is a path, not an id: it keeps its canonical
// escaped form.

// codeUnsupportedType is the error code of a body whose Content-Type the
// route does not take (415).
const codeUnsupportedType = "unsupported_media_type"

func init() { statusOf[codeUnsupportedType] = http.StatusUnsupportedMediaType }

// paramRules are the grammars of path parameters by name; any other named
// parameter is an id (latchkey.CheckID).
var paramRules = map[string]func(string) error{
	"app":    checkName,
	"config": checkName,
}

// queryRules are the grammars of query parameters by name, when not empty;
// any other is text (latchkey.CheckText: UTF-8 without NUL), so that a
// provider's multi-line error_description still reaches its page.
var queryRules = map[string]func(string) error{
	"org":   latchkey.CheckID,
	"app":   checkName,
	"actor": checkActor,
}

// maxActor is the longest audit actor a filter names: "admin:" and an
// email address of at most 254 bytes, an API key's id, "oauth:" and a
// client id…
const maxActor = 512

// checkActor is the grammar of ?actor= (the audit log's filter): one line
// of text of at most maxActor bytes.
func checkActor(s string) error {
	if err := latchkey.CheckLine(s); err != nil {
		return err
	}
	if len(s) > maxActor {
		return fmt.Errorf("must be at most %d bytes", maxActor)
	}
	return nil
}

func checkName(s string) error {
	if !latchkey.ValidName(s) {
		return errors.New(latchkey.NameRule)
	}
	return nil
}

// fieldError is a refused input named by its field.
func fieldError(code, message, field, problem string) error {
	return &latchkey.Error{Code: code, Message: message, Fields: []latchkey.FieldError{{Field: field, Message: problem}}}
}

// canonicalPath writes the escaped path of u with every segment unescaped
// and escaped again (url.PathEscape), so that equal segments are written
// alike and an escaped '/' stays inside its segment.
func canonicalPath(u *url.URL) (string, error) {
	p := u.EscapedPath()
	if plainPath(p) {
		return p, nil // written canonically already: nothing to unescape
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", err
		}
		segs[i] = url.PathEscape(dec)
	}
	return strings.Join(segs, "/"), nil
}

// plainPath reports whether an escaped path holds only '/' and characters
// that url.PathEscape leaves as they are, so that canonicalPath would
// write it unchanged.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch b := p[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '/', b == '-', b == '_', b == '.', b == '~':
		default:
			return false
		}
	}
	return true
}

// routeTable answers which methods the server's routes take on a path.
type routeTable struct {
	once sync.Once
	real map[[2]string]bool // {method, "/route/:pattern"} of every registered route
}

// probeMethods are the methods Allow may list, in the order it lists them.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// notForHead are the GET routes that a HEAD must not run, because the GET
// uses something up: a callback takes its state once, so a HEAD from a
// link checker or a prefetch would spend it.
var notForHead = map[string]bool{"/oauth/callback": true}

// headable reports whether a HEAD on the escaped path may run its GET route.
func (s *Server) headable(path string) bool {
	return s.has(http.MethodGet, path) && !notForHead[s.pattern(http.MethodGet, path)]
}

// has reports whether a route (not a group's catch-all 404) takes method
// on the escaped path.
func (s *Server) has(method, path string) bool {
	return s.isRoute(method, s.pattern(method, path))
}

// isRoute reports whether pattern, which the router picked for method, is
// a route's that takes method (not a group's catch-all 404, nor a path
// whose routes take other methods).
func (s *Server) isRoute(method, pattern string) bool {
	s.routes.once.Do(func() {
		s.routes.real = map[[2]string]bool{}
		for _, r := range s.echo.Routes() {
			if r.Method != echo.RouteNotFound {
				s.routes.real[[2]string{r.Method, r.Path}] = true
			}
		}
	})
	return s.routes.real[[2]string{method, pattern}]
}

// pattern returns the pattern of the route the router picks for method on
// the escaped path.
func (s *Server) pattern(method, path string) string {
	c := s.echo.AcquireContext()
	defer s.echo.ReleaseContext(c)
	c.Reset(nil, nil)
	s.echo.Router().Find(method, path, c)
	return c.Path()
}

// allowed lists the methods the routes take on path, HEAD wherever GET is
// and OPTIONS wherever any is (RFC 9110 §9.3.2, §9.3.7); nil when no route
// matches it.
func (s *Server) allowed(path string) []string {
	var out []string
	head := s.headable(path)
	for _, m := range probeMethods {
		if (m == http.MethodHead && head) || s.has(m, path) {
			out = append(out, m)
		}
	}
	if len(out) > 0 {
		out = append(out, http.MethodOptions)
	}
	return out
}

// edgeKey holds, in the echo context, what routeRequests decided.
const edgeKey = "latchkey.edge"

type edgeDecision struct {
	err   error
	allow []string
	head  bool // a HEAD routed as GET
}

// routeRequests runs before routing: it writes the path canonically for the
// router, routes HEAD as GET where a route takes GET only, and notes, for a
// HEAD on a path whose routes do not take it, the methods they do take.
// checkInputs, after the middleware that every response needs, acts on it,
// and finds the methods of a path whose routes do not take another method
// from the route the router picked: a request that a route takes, as most
// are, is routed once.
func (s *Server) routeRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if id := r.Header.Get(echo.HeaderXRequestID); id != "" && !latchkey.ValidToken(id) {
			r.Header.Del(echo.HeaderXRequestID) // a request id of our own is made instead
		}
		var d edgeDecision
		raw, err := canonicalPath(r.URL)
		if err != nil {
			d.err = fieldError(latchkey.EBADREQUEST, "the path cannot be read", "path", "holds an escape that is not %XX")
			c.Set(edgeKey, d)
			return next(c)
		}
		r.URL.RawPath = raw
		if r.Method != http.MethodHead {
			return next(c) // checkInputs sees whether a route takes it
		}
		switch {
		case s.has(r.Method, raw):
		case s.headable(raw):
			r.Method = http.MethodGet
			d.head = true
		default:
			d.allow = s.allowed(raw)
		}
		if d.head || d.allow != nil {
			c.Set(edgeKey, d) // else checkInputs reads the zero decision
		}
		return next(c)
	}
}

// headWriter is the response of a HEAD request routed as GET: the status
// and headers of the GET, no body.
type headWriter struct{ http.ResponseWriter }

func (headWriter) Write(p []byte) (int, error) { return len(p), nil }

// checkInputs answers OPTIONS and methods the routes of a path do not take
// (405 with Allow), then unescapes every path parameter once and checks it
// and every query parameter against its grammar.
func (s *Server) checkInputs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		d, _ := c.Get(edgeKey).(edgeDecision)
		if d.err != nil {
			return d.err
		}
		if r := c.Request(); r.Method != http.MethodHead && !d.head && !s.isRoute(r.Method, c.Path()) {
			// The router picked no route of this method (the path's
			// routes take others, or none does): the methods they take.
			d.allow = s.allowed(r.URL.RawPath)
		}
		if d.head || c.Request().Method == http.MethodHead {
			c.Response().Writer = headWriter{c.Response().Writer}
		}
		if len(d.allow) > 0 {
			c.Response().Header().Set(echo.HeaderAllow, strings.Join(d.allow, ", "))
			if c.Request().Method == http.MethodOptions {
				return c.NoContent(http.StatusNoContent)
			}
			return echo.ErrMethodNotAllowed
		}
		if err := checkParams(c); err != nil {
			return err
		}
		if err := checkQuery(c.Request().URL.RawQuery); err != nil {
			return err
		}
		return next(c)
	}
}

func checkParams(c echo.Context) error {
	names, values := c.ParamNames(), c.ParamValues()
	decoded := make([]string, len(values))
	copy(decoded, values)
	for i, name := range names {
		if i >= len(values) || name == "*" || strings.HasSuffix(name, "*") {
			continue
		}
		v, err := url.PathUnescape(values[i])
		if err != nil {
			return fieldError(latchkey.EBADREQUEST, "the path cannot be read", name, "holds an escape that is not %XX")
		}
		check := paramRules[name]
		if check == nil {
			check = latchkey.CheckID
		}
		if err := check(v); err != nil {
			return fieldError(latchkey.EBADREQUEST, "the "+name+" in the path is not valid", name, err.Error())
		}
		decoded[i] = v
	}
	c.SetParamValues(decoded...)
	return nil
}

func checkQuery(raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fieldError(latchkey.EBADREQUEST, "the query cannot be read", "query", "must be name=value pairs joined by '&', escaped as %XX")
	}
	for name, vs := range q {
		if err := latchkey.CheckLine(name); err != nil {
			return fieldError(latchkey.EBADREQUEST, "the query is not valid", "query", "a parameter name "+err.Error())
		}
		check := queryRules[name]
		for _, v := range vs {
			var err error
			switch {
			case check != nil && v != "":
				err = check(v)
			default:
				err = latchkey.CheckText(v)
			}
			if err != nil {
				return fieldError(latchkey.EBADREQUEST, "the query parameter "+name+" is not valid", name, err.Error())
			}
		}
	}
	return nil
}

// jsonBody says how readJSON reads a body.
type jsonBody struct {
	// optional lets an empty body leave v as it is.
	optional bool
	// typed requires a Content-Type that says JSON; otherwise a body
	// without one is read as JSON too.
	typed bool
	// lenient accepts fields v does not have.
	lenient bool
}

// isJSONType reports whether a Content-Type says JSON (application/json,
// or a type ending in +json), in UTF-8.
func isJSONType(ctype string) bool {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// readJSON reads the request's body into v as one JSON value: a body in
// another Content-Type gets 415; one that is not valid UTF-8, not JSON, or
// has anything after the value gets 400; a field v does not have (unless
// lenient), a value of the wrong type, a null where the field takes none
// or a string holding NUL gets 422 naming the field.
func readJSON(c echo.Context, v any, how jsonBody) error {
	ctype := c.Request().Header.Get(echo.HeaderContentType)
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return latchkey.WrapError(latchkey.EBADREQUEST, err, "the request body cannot be read")
	}
	if len(bytes.TrimSpace(body)) == 0 && how.optional {
		return nil
	}
	if (ctype != "" || how.typed) && !isJSONType(ctype) {
		return fieldError(codeUnsupportedType, "the body must be JSON: send Content-Type: application/json", "Content-Type",
			"must be application/json")
	}
	if !utf8.Valid(body) {
		return fieldError(latchkey.EBADREQUEST, "the body is not valid UTF-8", "", "is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if !how.lenient {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return fieldError(latchkey.EBADREQUEST, "the body is empty", "", "must be a JSON object")
		case errors.As(err, &te):
			return fieldError(latchkey.EINVALID, "the body has a value of the wrong type", te.Field, "must be a JSON "+jsonKind(te))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fieldError(latchkey.EINVALID, "the body has a field this request does not take", f, "is not a field of this request")
		}
		if f := latchkey.FailingField(body, reflect.TypeOf(v), "json"); f != "" {
			// A value its own UnmarshalText refused (a duration): the
			// decoder says what, the walk says where.
			return fieldError(latchkey.EINVALID, "the body has a value that cannot be read", f, strings.TrimPrefix(err.Error(), "json: "))
		}
		return fieldError(latchkey.EBADREQUEST, "the body is not JSON", "", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fieldError(latchkey.EBADREQUEST, "the body has data after its JSON value", "", "must be one JSON value and nothing after it")
	}
	if f, ok := latchkey.NullField(body, reflect.TypeOf(v).Elem()); ok {
		return fieldError(latchkey.EINVALID, "the body has a null value", f, latchkey.NullMessage)
	}
	var fe latchkey.FieldErrors
	latchkey.CheckStrings(v, "", &fe)
	return fe.Err("the body holds text that cannot be stored")
}

func jsonKind(te *json.UnmarshalTypeError) string {
	switch k := te.Type.Kind().String(); k {
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "number"
	case "bool":
		return "boolean"
	default:
		return k
	}
}

// documentFormat returns the app document format a Content-Type names:
// JSON when it says JSON or is absent, YAML when it says YAML, and a 415
// for any other.
func documentFormat(ctype string) (string, error) {
	if ctype == "" {
		return latchkey.FormatJSON, nil
	}
	unsupported := fieldError(codeUnsupportedType, "an app document is JSON or YAML", "Content-Type",
		"must be application/json or application/yaml, got "+strconv.Quote(ctype))
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", unsupported
	}
	switch {
	case isJSONType(mt):
		return latchkey.FormatJSON, nil
	case mt == "application/yaml", mt == "application/x-yaml", mt == "text/yaml", mt == "text/x-yaml",
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+yaml"):
		return latchkey.FormatYAML, nil
	}
	return "", unsupported
}
