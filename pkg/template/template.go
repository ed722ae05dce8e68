package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

// Context is where a template's output goes, which decides how every value
// is escaped.
type Context int

// Contexts.
const (
	Text     Context = iota // a plain string; values with CR, LF or NUL are refused
	JSONBody                // a JSON object of parameters
	URL                     // an absolute http or https URL
	Header                  // an HTTP header value
)

func (c Context) String() string {
	switch c {
	case JSONBody:
		return "JSON body"
	case URL:
		return "URL"
	case Header:
		return "header"
	}
	return "text"
}

// Template is a compiled template. It is safe for concurrent use.
type Template struct {
	name string
	src  string
	ctx  Context
	t    *template.Template
	vars []string
}

// MissingValueError reports a value a template refers to that the render was
// not given.
type MissingValueError struct{ Name string }

func (e *MissingValueError) Error() string { return fmt.Sprintf("no value for %q", e.Name) }

// Param is one parameter of a rendered JSON body.
type Param struct{ Key, Value string }

// seedRE matches the seed syntax: a bare name, optionally piped on, as in
// {{client_id}} or {{ client_id | upper }}.
var seedRE = regexp.MustCompile(`\{\{(-?\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*(?:\|[^{}]*)?-?)\}\}`)

var keywords = map[string]bool{"if": true, "else": true, "end": true, "range": true, "with": true, "define": true,
	"template": true, "block": true, "break": true, "continue": true, "nil": true, "true": true, "false": true}

// Compile parses src as a template for ctx and gives every action its
// escaper. The error says what is wrong and where, and holds no value.
func Compile(name, src string, ctx Context) (*Template, error) {
	if len(src) > MaxSourceSize {
		return nil, fmt.Errorf("the template is longer than %d bytes", MaxSourceSize)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("the template is empty")
	}
	rewritten := seedRE.ReplaceAllStringFunc(src, func(m string) string {
		sub := seedRE.FindStringSubmatch(m)
		// A bare {{name}} is always a value, even when a function has the
		// name (sprig's sub, list…); piped on, a function name stays one.
		piped := strings.Contains(sub[3], "|")
		if keywords[sub[2]] || (piped && (funcMap[sub[2]] != nil || builtinFunc[sub[2]])) {
			return m
		}
		return "{{" + sub[1] + "." + sub[2] + sub[3] + "}}"
	})
	t, err := template.New(name).Option("missingkey=error").Funcs(funcMap).Funcs(escapers).Parse(rewritten)
	if err != nil {
		return nil, cleanParseError(err)
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("define and block are not allowed")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return nil, errors.New("the template is empty")
	}
	w := &walker{ctx: ctx, vars: map[string]bool{}}
	end, err := w.list(t.Tree.Root, startState(ctx))
	if err != nil {
		return nil, err
	}
	if ctx == JSONBody && end.json != jsonOutside {
		return nil, errors.New("a JSON string is not closed")
	}
	tp := &Template{name: name, src: src, ctx: ctx, t: t}
	for v := range w.vars {
		tp.vars = append(tp.vars, v)
	}
	sort.Strings(tp.vars)
	// A trial render with placeholder values finds a body that is not a
	// JSON object, or a URL that is not absolute, at compile time.
	if ctx == JSONBody || ctx == URL {
		sample := map[string]string{}
		for _, v := range tp.vars {
			sample[v] = "x"
		}
		if _, err := tp.render(sample); err != nil && !isValueError(err) {
			return nil, err
		}
	}
	return tp, nil
}

// MustCompile is Compile that panics on error, for templates fixed in code.
func MustCompile(name, src string, ctx Context) *Template {
	t, err := Compile(name, src, ctx)
	if err != nil {
		panic(err)
	}
	return t
}

// Name returns the template's name.
func (t *Template) Name() string { return t.name }

// Source returns the template's source as written.
func (t *Template) Source() string { return t.src }

// Vars returns the names of the values the template refers to, sorted.
func (t *Template) Vars() []string { return append([]string(nil), t.vars...) }

// Render executes the template with vals. A value the template refers to and
// vals lacks is a *MissingValueError; a value that cannot stand where it is
// used (a host label with a dot, a header with a line break) is an error
// naming the place, never the value.
func (t *Template) Render(vals map[string]string) (string, error) {
	return t.render(vals)
}

func (t *Template) render(vals map[string]string) (string, error) {
	if vals == nil {
		vals = map[string]string{}
	}
	var buf limitedBuffer
	if err := t.t.Execute(&buf, vals); err != nil {
		return "", t.execError(err)
	}
	out := buf.String()
	switch t.ctx {
	case JSONBody:
		if err := checkObject(out); err != nil {
			return "", err
		}
	case URL:
		u, err := url.Parse(out)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return "", errors.New("the rendered URL is not an absolute http or https URL")
		}
	case Header:
		if strings.ContainsAny(out, "\r\n\x00") {
			return "", errors.New("a header value cannot hold a line break or NUL")
		}
	}
	return out, nil
}

// RenderParams renders a JSONBody template and returns its members in order:
// strings as they are, numbers and booleans as their JSON text, null as "",
// objects and arrays as compact JSON.
func (t *Template) RenderParams(vals map[string]string) ([]Param, error) {
	if t.ctx != JSONBody {
		return nil, errors.New("RenderParams needs a JSON body template")
	}
	out, err := t.render(vals)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var params []Param
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		params = append(params, Param{Key: key, Value: rawValue(raw)})
	}
	return params, nil
}

func rawValue(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case 'n':
		return ""
	case '{', '[':
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		return b.String()
	}
	return string(raw)
}

func checkObject(out string) error {
	trimmed := strings.TrimSpace(out)
	if !strings.HasPrefix(trimmed, "{") {
		return errors.New("the rendered body is not a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	var v map[string]json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("the rendered body is not a JSON object: %s", jsonProblem(err))
	}
	if dec.More() {
		return errors.New("the rendered body has data after its JSON object")
	}
	return nil
}

// jsonProblem describes a JSON syntax error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "invalid JSON"
}

var missingRE = regexp.MustCompile(`map has no entry for key "([^"]*)"`)

// valueError marks an error caused by a value, as opposed to the template.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func isValueError(err error) bool {
	var ve *valueError
	var mv *MissingValueError
	return errors.As(err, &ve) || errors.As(err, &mv)
}

// execError turns an execution error into one that names the place and the
// value's name but never quotes a value.
func (t *Template) execError(err error) error {
	msg := err.Error()
	if m := missingRE.FindStringSubmatch(msg); m != nil {
		return &MissingValueError{Name: m[1]}
	}
	var ve *valueError
	if errors.As(err, &ve) {
		return ve
	}
	var ee template.ExecError
	if errors.As(err, &ee) {
		if errors.Is(err, errOutputTooLarge) {
			return errOutputTooLarge
		}
		if errors.Is(err, errTooLarge) {
			return errTooLarge
		}
		// The text of an ExecError names the action ("at <.x | upper>:"),
		// then the cause, which may quote a value: keep the place only.
		if i := strings.Index(msg, ">: "); i >= 0 {
			return fmt.Errorf("%s: a function failed", strings.TrimPrefix(msg[:i+1], "template: "))
		}
		return errors.New("the template failed to render")
	}
	if errors.Is(err, errOutputTooLarge) {
		return errOutputTooLarge
	}
	return errors.New("the template failed to render")
}

func cleanParseError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	if strings.Contains(msg, "function \"") && strings.Contains(msg, "not defined") {
		msg += " (the function is not offered; see the template documentation for the list)"
	}
	return errors.New(msg)
}

var errOutputTooLarge = fmt.Errorf("the output is larger than %d bytes", MaxValueSize)

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxValueSize {
		return 0, errOutputTooLarge
	}
	return b.Buffer.Write(p)
}

// builtinFunc are text/template's own functions, which the seed syntax must
// not turn into values.
var builtinFunc = map[string]bool{"and": true, "call": true, "html": true, "index": true, "slice": true, "js": true,
	"len": true, "not": true, "or": true, "print": true, "printf": true, "println": true, "urlquery": true,
	"eq": true, "ge": true, "gt": true, "le": true, "lt": true, "ne": true}
