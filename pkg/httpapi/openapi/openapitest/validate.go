// Package openapitest checks requests and responses against Latchkey's
// OpenAPI document (package openapi) in tests: a Validator for one
// exchange, and Handler, which checks every exchange a server under test
// takes.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi"
)

// Validator checks requests and their responses against the document with
// kin-openapi's openapi3filter, which validates OpenAPI 3.1 schemas as JSON
// Schema 2020-12. It routes by itself, because a proxy path ({path}) may
// hold slashes, which no OpenAPI router matches.
type Validator struct {
	doc    *openapi3.T
	routes []route
}

type route struct {
	path  string
	re    *regexp.Regexp
	names []string
	item  *openapi3.PathItem
	// params counts the path's parameters: fewer wins, so that
	// /providers/discover beats /providers/{name}.
	params int
}

// wholePath is the one path parameter that takes the rest of the path,
// slashes included: the proxy's.
const wholePath = "path"

func init() {
	for _, t := range []string{"text/yaml", "text/x-yaml"} {
		openapi3filter.RegisterBodyDecoder(t, openapi3filter.YamlBodyDecoder)
	}
	for _, t := range []string{"text/html", "text/javascript", "application/openmetrics-text", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(t, openapi3filter.PlainBodyDecoder)
	}
	for _, t := range []string{"image/png", "image/jpeg"} {
		openapi3filter.RegisterBodyDecoder(t, openapi3filter.FileBodyDecoder)
	}
}

// Load parses and validates the document.
func Load() (*openapi3.T, error) {
	b, err := openapi.JSON()
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("openapi: the document does not load: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi: the document is not valid: %w", err)
	}
	return doc, nil
}

// NewValidator loads the document and prepares its routes.
func NewValidator() (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	v := &Validator{doc: doc}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc.Paths.Map() {
		r := route{path: path, item: item}
		expr := "^"
		rest := path
		for {
			loc := param.FindStringSubmatchIndex(rest)
			if loc == nil {
				expr += regexp.QuoteMeta(rest)
				break
			}
			name := rest[loc[2]:loc[3]]
			expr += regexp.QuoteMeta(rest[:loc[0]])
			if name == wholePath {
				expr += "(.+)"
			} else {
				expr += "([^/]+)"
			}
			r.names = append(r.names, name)
			r.params++
			rest = rest[loc[1]:]
		}
		r.re = regexp.MustCompile(expr + "$")
		v.routes = append(v.routes, r)
	}
	sort.Slice(v.routes, func(i, j int) bool {
		if v.routes[i].params != v.routes[j].params {
			return v.routes[i].params < v.routes[j].params
		}
		return v.routes[i].path < v.routes[j].path
	})
	return v, nil
}

// Document returns the parsed document.
func (v *Validator) Document() *openapi3.T { return v.doc }

// Find returns the document's path that matches an escaped request path,
// and the path parameters, unescaped.
func (v *Validator) Find(escapedPath string) (string, *openapi3.PathItem, map[string]string, bool) {
	for _, r := range v.routes {
		m := r.re.FindStringSubmatch(escapedPath)
		if m == nil {
			continue
		}
		params := map[string]string{}
		for i, name := range r.names {
			val, err := url.PathUnescape(m[i+1])
			if err != nil {
				val = m[i+1]
			}
			params[name] = val
		}
		return r.path, r.item, params, true
	}
	return "", nil, nil, false
}

// Exchange is one request and the response it got, bodies read.
type Exchange struct {
	Request      *http.Request
	RequestBody  []byte
	Status       int
	Header       http.Header
	ResponseBody []byte
	// SkipRequestBody and SkipResponseBody leave a body unchecked: one
	// that streams, too large to hold.
	SkipRequestBody, SkipResponseBody bool
}

// Check validates an exchange. A request the document describes must get
// a documented response whose body matches its schema; a request the
// document says is wrong (an unknown route, an undocumented method, a bad
// parameter or body) must be refused with a 4xx that the document
// describes. The error says what did not match.
func (v *Validator) Check(ctx context.Context, x Exchange) error {
	r := x.Request
	method := r.Method
	if r.URL.Path == "/" || r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/") {
		return nil // the builder UI's files, which the document leaves out
	}
	path, item, params, ok := v.Find(r.URL.EscapedPath())
	if method == http.MethodOptions && (!ok || item.Options == nil) {
		// The server answers OPTIONS itself, with Allow (RFC 9110 §9.3.7),
		// after authentication under /api/v1.
		switch x.Status {
		case http.StatusNoContent, http.StatusNotFound, http.StatusUnauthorized:
			return nil
		}
		return fmt.Errorf("OPTIONS %s: answered %d, want 204, 401 or 404", r.URL.Path, x.Status)
	}
	if !ok {
		if refused(x.Status) {
			return v.checkError(x)
		}
		return fmt.Errorf("%s %s: the document has no such path, yet the server answered %d", method, r.URL.Path, x.Status)
	}
	head := false
	op := item.GetOperation(method)
	if op == nil && method == http.MethodHead {
		op, head = item.Get, true
	}
	if op == nil {
		if refused(x.Status) {
			return v.checkError(x)
		}
		return fmt.Errorf("%s %s: the document has no %s on %s, yet the server answered %d", method, r.URL.Path, method, path, x.Status)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            false,
		ExcludeResponseBody:   head || method == http.MethodHead || x.SkipResponseBody,
		ExcludeRequestBody:    x.SkipRequestBody,
		AuthenticationFunc:    authenticated,
		// An exported document sent back holds its revision and times,
		// which the server ignores: readOnly fields may come back.
		ExcludeReadOnlyValidations: true,
	}
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	if req.Header.Get("Content-Type") == "" && len(x.RequestBody) > 0 && op.RequestBody != nil &&
		op.RequestBody.Value.Content.Get("application/json") != nil {
		// The API reads a body without a Content-Type as JSON.
		req.Header.Set("Content-Type", "application/json")
	}
	if head {
		req.Method = http.MethodGet
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      &routers.Route{Spec: v.doc, Path: path, PathItem: item, Method: req.Method, Operation: op},
		Options:    opts,
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && (x.Status < 400 || x.Status >= 500) {
		return fmt.Errorf("%s %s (%s): the request does not match the document (%v), yet the server answered %d",
			method, r.URL.Path, op.OperationID, reqErr, x.Status)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.Header,
		Body:                   io.NopCloser(bytes.NewReader(x.ResponseBody)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s (%s): the response %d does not match the document: %v", method, r.URL.Path, op.OperationID, x.Status, err)
	}
	if x.Header.Get("Latchkey-Error") != "" && !opts.ExcludeResponseBody && strings.HasPrefix(r.URL.Path, "/api/") {
		// Latchkey's own refusal, even on a route that passes a
		// provider's answers through, is the API's error.
		return v.checkError(x)
	}
	return nil
}

// refused reports whether a status refuses the request (4xx): the
// answer a request outside the document must get.
func refused(status int) bool { return status >= 400 && status < 500 }

// checkError checks that a response to a request outside the document is
// the API's error (JSON under /api/, a page elsewhere).
func (v *Validator) checkError(x Exchange) error {
	if !strings.HasPrefix(x.Request.URL.Path, "/api/") || x.Request.Method == http.MethodHead {
		return nil
	}
	schema := v.doc.Components.Schemas["Error"]
	var body any
	if err := json.Unmarshal(x.ResponseBody, &body); err != nil {
		return fmt.Errorf("%s %s: the %d is not the JSON error: %v", x.Request.Method, x.Request.URL.Path, x.Status, err)
	}
	if err := schema.Value.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%s %s: the %d is not the API's error: %v", x.Request.Method, x.Request.URL.Path, x.Status, err)
	}
	return nil
}

// authenticated accepts a request that carries what its security scheme
// names; whether the key is good is the server's to say.
func authenticated(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch in.SecurityScheme.Type {
	case "http":
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return nil
		}
	case "apiKey":
		if c, err := r.Cookie(in.SecurityScheme.Name); err == nil && c.Value != "" && r.Header.Get("Authorization") == "" {
			return nil
		}
	}
	return errors.New("the credentials of " + in.SecuritySchemeName + " are missing")
}
