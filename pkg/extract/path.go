package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/PaesslerAG/gval"
	"github.com/PaesslerAG/jsonpath"
)

// language is JSONPath with placeholders over the full gval language:
// arithmetic, comparisons, logic, text operators and JSON literals.
var language = gval.Full(jsonpath.PlaceholderExtension())

// Path is a compiled JSONPath expression, such as $.access_token,
// $.authed_user.access_token, $.tokens[?(@.type == "user")].value or the
// condition $.ok == true. A Path is safe for concurrent use.
type Path struct {
	src  string
	eval gval.Evaluable
	// keys is set for a plain path of names ($.a.b): Eval then walks the
	// document's maps directly, with gval's result, and without gval's
	// cost on the common case of a key that is absent.
	keys []string
}

// plainRE matches a path made only of names: $.a, $.a.b_c.
var plainRE = regexp.MustCompile(`^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

var errNoKey = errors.New("unknown key")

// Compile parses expr once. A bare name such as access_token is read as a
// key of the document, like $.access_token. Strings take double quotes
// ($["key"], @.type == "user"); single quotes are gval's character literals. The error names the expression
// and what is wrong with it; it never holds document values, since none
// exists yet.
func Compile(expr string) (p *Path, err error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("extract: empty JSONPath")
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("extract: cannot parse JSONPath %q", expr)
		}
	}()
	ev, err := language.NewEvaluable(expr)
	if err != nil {
		hint := ""
		if strings.Contains(expr, "'") {
			hint = " (strings take double quotes: $[\"key\"])"
		}
		return nil, fmt.Errorf("extract: cannot parse JSONPath %q: %v%s", expr, err, hint)
	}
	p = &Path{src: expr, eval: ev}
	if plainRE.MatchString(expr) {
		p.keys = strings.Split(expr[2:], ".")
	}
	return p, nil
}

// MustCompile is like Compile but panics on error. It is meant for paths
// fixed in the program, such as the defaults of DefaultRules.
func MustCompile(expr string) *Path {
	p, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the source expression.
func (p *Path) String() string {
	if p == nil {
		return "(no path)"
	}
	return p.src
}

// EvalError reports that a path could not be evaluated on a document: a key
// is missing, an index is out of range, or an operator met a value of the
// wrong type. Its message names the path only; Err, the evaluator's own
// account, may quote document values and must not be shown or logged as is.
type EvalError struct {
	Path string
	Err  error
}

// Error implements error.
func (e *EvalError) Error() string {
	return "extract: " + e.Path + " does not apply to this document"
}

// Unwrap returns the evaluator's error.
func (e *EvalError) Unwrap() error { return e.Err }

// Eval runs the path on doc, a value made of map[string]any, []any, string,
// float64, json.Number, bool and nil (as returned by ParseResponse and
// QueryDocument), and returns what it selects: a single value for a plain
// path, a []any for wildcards, filters and recursive descent, a bool for a
// condition. A path that selects nothing returns an *EvalError.
func (p *Path) Eval(ctx context.Context, doc any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &EvalError{Path: p.src, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if p.keys != nil {
		if v, found, plain := walkKeys(doc, p.keys); plain {
			if !found {
				return nil, &EvalError{Path: p.src, Err: errNoKey}
			}
			return v, nil
		}
	}
	v, err = p.eval(ctx, doc)
	if err != nil {
		return nil, &EvalError{Path: p.src, Err: err}
	}
	return v, nil
}

// value evaluates p and unwraps a one-element list, so that a filter that
// matches one entry reads as that entry. ok is false when nothing is found:
// an evaluation error, null, or an empty list.
func (p *Path) value(ctx context.Context, doc any) (any, bool) {
	v, err := p.Eval(ctx, doc)
	if err != nil || v == nil {
		return nil, false
	}
	if l, isList := v.([]any); isList {
		switch len(l) {
		case 0:
			return nil, false
		case 1:
			if l[0] == nil {
				return nil, false
			}
			return l[0], true
		}
	}
	return v, true
}

// Lookup runs the path on doc and returns the value as a string: strings as
// they are, numbers in plain decimal notation (28800, never 2.88e+04), bools
// as "true" or "false", objects and lists as compact JSON. A filter that
// matches exactly one entry yields that entry. A missing value, null or an
// empty match yields ("", false).
func (p *Path) Lookup(ctx context.Context, doc any) (string, bool) {
	v, ok := p.value(ctx, doc)
	if !ok {
		return "", false
	}
	return format(v), true
}

// True reports whether the path, used as a success condition, holds on doc:
// it is true for the bool true and for any other non-empty value except
// "false" and "0" (in any case), and false for an empty string, object or
// list, and when the path selects nothing.
func (p *Path) True(ctx context.Context, doc any) bool {
	v, ok := p.value(ctx, doc)
	if !ok {
		return false
	}
	if b, isBool := v.(bool); isBool {
		return b
	}
	s := format(v)
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0", "[]", "{}":
		return false
	}
	return true
}

// format renders a document value as a string; see Path.Lookup.
func format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// walkKeys follows keys through nested map[string]any. plain is false when
// a step is some other type, which gval is then left to judge.
func walkKeys(doc any, keys []string) (v any, found, plain bool) {
	v = doc
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, false
		}
		if v, ok = m[k]; !ok {
			return nil, false, true
		}
	}
	return v, true, true
}
