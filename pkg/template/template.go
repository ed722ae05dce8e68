package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	ttemplate "text/template"
	"text/template/parse"
	"time"
)

// Limits of one Render; see the package documentation.
const (
	// MaxOutput is the largest rendered result, in bytes.
	MaxOutput = 64 << 10
	// MaxIterations is the most range iterations one Render may run, counted
	// over all loops.
	MaxIterations = 10000
	// MaxSource is the longest template source, in bytes.
	MaxSource = 16 << 10
	// MaxRenderTime is the longest one Render may run, checked at every range
	// iteration.
	MaxRenderTime = time.Second
)

// Context says what a template renders and so how its values are escaped.
type Context int

// The contexts.
const (
	// Text is a plain string: values are not escaped, but a result holding
	// CR, LF or NUL is refused.
	Text Context = iota
	// JSONBody is a JSON object of request parameters (RFC 8259): values
	// render as JSON strings or inside them.
	JSONBody
	// URL is an absolute http or https URL (RFC 3986): scheme and host are
	// literal, values are escaped for the part they are in.
	URL
	// Header is an HTTP header field value (RFC 9110 §5.5): a result holding
	// CR, LF, NUL or another control character but tab is refused.
	Header
	// Value is one parameter value that its caller encodes for where it
	// goes (a form-encoded or JSON body parameter, a query parameter, a
	// Basic credential, RFC 6749 §2.3.1): any string renders as is.
	Value
)

// String returns the context's name.
func (c Context) String() string {
	switch c {
	case Text:
		return "text"
	case JSONBody:
		return "JSON body"
	case URL:
		return "URL"
	case Header:
		return "header"
	case Value:
		return "value"
	}
	return "Context(" + strconv.Itoa(int(c)) + ")"
}

// Template is a compiled template: safe for concurrent use by many
// goroutines, executed many times.
type Template struct {
	name string
	src  string
	ctx  Context
	vars []string
	tmpl *ttemplate.Template
	// plan, for a JSON body that is a flat object of literals and plain
	// value references, lets RenderParams skip text/template.
	plan plan
	// single is the value's name when a Text or Header template is nothing
	// but one value reference ({{client_id}}): Render then skips
	// text/template, with the same checks.
	single string
	// prefix is literal text before single ("Bearer " of
	// "Bearer {{access_token}}"), which has no action.
	prefix string
	// literal is set when the template has no action (a declared API's
	// fixed URL): text is then its output, which text/template would
	// write unchanged. Render still checks it.
	literal bool
	text    string
}

// MissingValueError is returned, wrapped, by Render when the template refers
// to a value that is absent from the values given.
type MissingValueError struct {
	// Name is the missing value's name.
	Name string
}

// Error names the missing value.
func (e *MissingValueError) Error() string { return fmt.Sprintf("value %q is missing", e.Name) }

// Compile parses src as a template named name rendering in ctx, resolves the
// seed syntax ({{client_id}} for {{.client_id}}), follows the lexical state of
// the literal text and appends the escaping functions of ctx to its actions.
// Its error says what is wrong and where; it holds no value and may be shown
// to the template's author.
func Compile(name, src string, ctx Context) (*Template, error) {
	if ctx < Text || ctx > Value {
		return nil, fmt.Errorf("template %q: unknown context %d", name, int(ctx))
	}
	if len(src) > MaxSource {
		return nil, fmt.Errorf("template %q: the source is longer than %d bytes", name, MaxSource)
	}
	tree := parse.New(name)
	tree.Mode = parse.SkipFuncCheck
	treeSet := map[string]*parse.Tree{}
	if _, err := tree.Parse(src, "", "", treeSet); err != nil {
		return nil, fmt.Errorf("template %q: %s", name, strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(treeSet) > 1 || (len(treeSet) == 1 && treeSet[name] != tree) {
		return nil, fmt.Errorf("template %q: define and block are not allowed", name)
	}
	c := &compiler{name: name, src: src, tree: tree, an: analyzerFor(ctx), vars: map[string]bool{}}
	end, err := c.walkList(c.an.start(), tree.Root, true)
	if err == nil {
		err = c.an.end(end)
	}
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", name, err)
	}
	tmpl := ttemplate.New(name).Funcs(allFuncs).Option("missingkey=error")
	if _, err := tmpl.AddParseTree(name, tree); err != nil {
		return nil, fmt.Errorf("template %q: %w", name, err)
	}
	t := &Template{name: name, src: src, ctx: ctx, tmpl: tmpl}
	if m := singleRE.FindStringSubmatch(src); m != nil && (ctx == Text || ctx == Header || ctx == Value) && !notValues[m[2]] {
		t.prefix, t.single = m[1], m[2]
	}
	t.text, t.literal = literalText(tree)
	for v := range c.vars {
		t.vars = append(t.vars, v)
	}
	sort.Strings(t.vars)
	// A trial render with a placeholder for every value finds, at compile
	// time, literal text that cannot render to a valid result (a bad JSON
	// literal, a host label too long) on the paths the placeholders take.
	if ctx == JSONBody || ctx == URL {
		sample := make(map[string]string, len(t.vars))
		for _, v := range t.vars {
			sample[v] = "x"
		}
		var ce *checkError
		if _, err := t.Render(sample); errors.As(err, &ce) || errors.Is(err, errOutputTooLarge) || errors.Is(err, errValueTooLarge) {
			return nil, err
		}
	}
	if ctx == JSONBody {
		if p := buildPlan(src); p != nil && t.samePlan(p) {
			t.plan = p
		}
	}
	return t, nil
}

// MustCompile is Compile panicking on error, for tests, examples and
// templates written in Go code.
func MustCompile(name, src string, ctx Context) *Template {
	t, err := Compile(name, src, ctx)
	if err != nil {
		panic(err)
	}
	return t
}

// Vars returns the sorted names of the values the template refers to
// ({{name}}, {{.name}} and {{$.name}}).
func (t *Template) Vars() []string { return append([]string(nil), t.vars...) }

// Source returns the template's source text.
func (t *Template) Source() string { return t.src }

// Name returns the template's name.
func (t *Template) Name() string { return t.name }

// Context returns the context the template renders in.
func (t *Template) Context() Context { return t.ctx }

// renderState is the data of one execution. Templates cannot reach it: a
// reference to a field of the root is rewritten into a call of Value, and the
// root itself ({{.}} or {{$}} at top level) is refused by Compile.
type renderState struct {
	vals     map[string]string
	deadline time.Time
	ticks    int
}

// Value returns the value named name or a MissingValueError.
func (s *renderState) Value(name string) (string, error) {
	v, ok := s.vals[name]
	if !ok {
		return "", &MissingValueError{Name: name}
	}
	return v, nil
}

var (
	errTooManyIterations = &limitError{fmt.Sprintf("more than %d range iterations", MaxIterations)}
	errTooSlow           = &limitError{fmt.Sprintf("rendering took longer than %s", MaxRenderTime)}
	errOutputTooLarge    = &limitError{fmt.Sprintf("the result exceeds %d bytes", MaxOutput)}
)

// Tick counts a range iteration and stops rendering beyond the limits.
func (s *renderState) Tick() (string, error) {
	s.ticks++
	if s.ticks > MaxIterations {
		return "", errTooManyIterations
	}
	if s.ticks%64 == 0 && time.Now().After(s.deadline) {
		return "", errTooSlow
	}
	return "", nil
}

// limitedBuffer is a bytes.Buffer refusing to grow beyond MaxOutput.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxOutput {
		return 0, errOutputTooLarge
	}
	return b.Buffer.Write(p)
}

// notValues are the words a lone {{word}} does not read as a value.
var notValues = map[string]bool{"nil": true, "true": true, "false": true, "end": true, "else": true, "break": true, "continue": true}

// singleRE matches a template that is one bare value reference, after
// literal text without braces (a header's "Bearer {{access_token}}").
var singleRE = regexp.MustCompile(`^([^{}]*)\{\{\s*\.?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

// execLocation finds "name:line:col" in a text/template execution error.
var execLocation = regexp.MustCompile(`^template: .*?:(\d+):(\d+): executing `)

// Render executes the template with vals and checks the result for the
// template's context. A value the template refers to but vals lacks is a
// MissingValueError. Errors name the template and values, never a value.
func (t *Template) Render(vals map[string]string) (string, error) {
	out, err := t.execute(vals)
	if err != nil {
		return "", err
	}
	if err := t.check(out); err != nil {
		return "", fmt.Errorf("template %q: %w", t.name, &checkError{err.Error()})
	}
	return out, nil
}

// literalText returns the output of a tree that holds only text (comments
// are not in it), and whether it does.
func literalText(tree *parse.Tree) (string, bool) {
	var b strings.Builder
	for _, n := range tree.Root.Nodes {
		tn, ok := n.(*parse.TextNode)
		if !ok {
			return "", false
		}
		b.Write(tn.Text)
	}
	return b.String(), true
}

// execute runs the template without the final check of its context.
func (t *Template) execute(vals map[string]string) (string, error) {
	if t.literal {
		return t.text, nil
	}
	if t.single != "" {
		v, ok := vals[t.single]
		if !ok {
			return "", fmt.Errorf("template %q: %w", t.name, &MissingValueError{Name: t.single})
		}
		return t.prefix + v, nil // Render checks it, as it would the executed output
	}
	st := &renderState{vals: vals, deadline: time.Now().Add(MaxRenderTime)}
	var buf limitedBuffer
	if err := t.tmpl.Execute(&buf, st); err != nil {
		return "", t.safeError(err)
	}
	return buf.String(), nil
}

// safeError rewrites an execution error so that it holds no value: function
// errors may quote their arguments, so only our own errors keep their text.
func (t *Template) safeError(err error) error {
	var mv *MissingValueError
	if errors.As(err, &mv) {
		return fmt.Errorf("template %q: %w", t.name, mv)
	}
	where := ""
	if m := execLocation.FindStringSubmatch(err.Error()); m != nil {
		where = fmt.Sprintf(" at line %s, column %s", m[1], m[2])
	}
	var le *limitError
	if errors.As(err, &le) {
		return fmt.Errorf("template %q: cannot render%s: %w", t.name, where, le)
	}
	return fmt.Errorf("template %q: cannot render%s: a function or operation failed (details withheld: they may contain values)", t.name, where)
}

// checkError is a rendered result that is not valid for its context.
type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }

// check verifies a rendered result against the template's context.
func (t *Template) check(out string) error {
	switch t.ctx {
	case Text, Header:
		for i := 0; i < len(out); i++ {
			if badTextByte(out[i], t.ctx == Header) {
				return fmt.Errorf("the rendered %s contains the control character %s", t.ctx, ctlName(out[i]))
			}
		}
	case JSONBody:
		if !json.Valid([]byte(out)) {
			return errors.New("the rendered body is not valid JSON")
		}
		if !strings.HasPrefix(strings.TrimLeft(out, " \t\r\n"), "{") {
			return errors.New("the rendered body is not a JSON object")
		}
	case URL:
		return checkURL(out)
	}
	return nil
}

// checkURL verifies that s is an absolute http(s) URL with a host made of
// labels and no "." or ".." path segments.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("the rendered URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
			return errors.New("the rendered URL is not an http or https URL")
		}
	}
	if u.Opaque != "" || u.User != nil || u.Host == "" {
		return errors.New("the rendered URL has no valid host")
	}
	host := u.Hostname()
	if !strings.HasPrefix(u.Host, "[") {
		for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
			if !validLabel(label) {
				return errors.New("the rendered URL's host is not a sequence of host labels")
			}
		}
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." {
			return errors.New("the rendered URL's path has a '.' or '..' segment")
		}
	}
	return nil
}

// Param is one parameter of a rendered JSON body.
type Param struct {
	// Key is the parameter's name.
	Key string
	// Value is a string value as is, a number or boolean as its JSON text,
	// null as "", an object or array as its compact JSON text.
	Value string
}

// RenderParams renders a JSONBody template and returns the object's members
// sorted by key, as parameters of a form-encoded token request (RFC 6749
// §4.1.3; url.Values encodes them sorted too).
func (t *Template) RenderParams(vals map[string]string) ([]Param, error) {
	if t.ctx != JSONBody {
		return nil, fmt.Errorf("template %q: RenderParams needs a JSON body template, not a %s", t.name, t.ctx)
	}
	if t.plan != nil {
		return t.plan.params(t.name, vals)
	}
	return t.renderParams(vals)
}

// renderParams is RenderParams through text/template.
func (t *Template) renderParams(vals map[string]string) ([]Param, error) {
	// objectParams parses the whole object, which checks it as Render would.
	out, err := t.execute(vals)
	if err != nil {
		return nil, err
	}
	params, err := objectParams(out)
	if err != nil {
		return nil, fmt.Errorf("template %q: %w", t.name, err)
	}
	return params, nil
}

// objectParams splits a JSON object into parameters sorted by key.
func objectParams(body string) ([]Param, error) {
	bad := errors.New("the rendered body is not a JSON object")
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &obj); err != nil || obj == nil {
		return nil, bad
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	params := make([]Param, 0, len(keys))
	for _, key := range keys {
		raw := obj[key]
		v, err := rawValue(raw)
		if err != nil {
			return nil, bad
		}
		params = append(params, Param{Key: key, Value: v})
	}
	return params, nil
}

// rawValue is a parameter's value from its JSON: strings as they are, null
// as "", objects and lists as compact JSON, numbers and booleans as written.
func rawValue(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 'n':
		return "", nil
	case '{', '[':
		var b bytes.Buffer
		err := json.Compact(&b, raw)
		return b.String(), err
	}
	return string(raw), nil
}
