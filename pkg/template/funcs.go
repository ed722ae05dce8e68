package template

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	ttemplate "text/template"

	"github.com/Masterminds/sprig/v3"
)

// dropped lists the functions of sprig.HermeticTxtFuncMap (and the
// text/template builtins) that Latchkey templates may not use, and why. Compile
// names them in a clear error. sprig's non-hermetic functions (date, now,
// dateInZone, dateModify and their aliases, htmlDate*, randAlphaNum,
// randAlpha, randAscii, randNumeric, randBytes, uuidv4, env, expandenv,
// getHostByName) are already absent from the hermetic map; TestCuratedFuncs
// checks that none of them, and none of these, is present.
var dropped = map[string]string{
	// Allocation or CPU proportional to a number in the template or a value.
	"repeat":    "allocates in proportion to a count",
	"until":     "builds a list of any length",
	"untilStep": "builds a list of any length",
	"seq":       "builds a list of any length",
	"indent":    "allocates in proportion to a count",
	"nindent":   "allocates in proportion to a count",
	"wrap":      "allocates in proportion to a count",
	"wrapWith":  "allocates in proportion to a count",
	// Output size is a product of its inputs (an empty pattern matches
	// everywhere, and $1 references copy submatches).
	"regexReplaceAll":            "output size is a product of its inputs",
	"mustRegexReplaceAll":        "output size is a product of its inputs",
	"regexReplaceAllLiteral":     "output size is a product of its inputs",
	"mustRegexReplaceAllLiteral": "output size is a product of its inputs",
	// Key generation and password hashing: CPU heavy and not hermetic.
	"genPrivateKey":            "generates keys",
	"genCA":                    "generates keys",
	"genCAWithKey":             "generates certificates",
	"genSelfSignedCert":        "generates keys",
	"genSelfSignedCertWithKey": "generates certificates",
	"genSignedCert":            "generates keys",
	"genSignedCertWithKey":     "generates certificates",
	"buildCustomCert":          "generates certificates",
	"derivePassword":           "is CPU heavy",
	"bcrypt":                   "is CPU heavy and random",
	"htpasswd":                 "is CPU heavy and random",
	"encryptAES":               "is random",
	"decryptAES":               "is not needed in OAuth templates",
	"randBytes":                "is random",
	"randInt":                  "is random",
	"shuffle":                  "is random",
	// Read the clock or the local time zone (the environment).
	"ago":              "reads the clock",
	"toDate":           "reads the local time zone",
	"mustToDate":       "reads the local time zone",
	"mustDateModify":   "works on dates, which templates cannot read",
	"must_date_modify": "works on dates, which templates cannot read",
	"unixEpoch":        "works on dates, which templates cannot read",
	// Depend on the operating system.
	"osBase":  "depends on the operating system",
	"osClean": "depends on the operating system",
	"osDir":   "depends on the operating system",
	"osExt":   "depends on the operating system",
	"osIsAbs": "depends on the operating system",
	// Mutate or copy data structures: they could build cycles or grow a
	// structure without bound inside a loop.
	"set":                "mutates a dictionary",
	"unset":              "mutates a dictionary",
	"merge":              "mutates a dictionary",
	"mergeOverwrite":     "mutates a dictionary",
	"mustMerge":          "mutates a dictionary",
	"mustMergeOverwrite": "mutates a dictionary",
	"deepCopy":           "copies structures of any size",
	"mustDeepCopy":       "copies structures of any size",
	"append":             "grows lists",
	"push":               "grows lists",
	"mustAppend":         "grows lists",
	"mustPush":           "grows lists",
	"prepend":            "grows lists",
	"mustPrepend":        "grows lists",
	"concat":             "grows lists",
	"chunk":              "is not needed in OAuth templates",
	"mustChunk":          "is not needed in OAuth templates",
	// Templates cannot hold function values, and the data is not a Go value.
	"call": "calls arbitrary functions",
	// Recursion.
	"define":   "defines templates (recursion)",
	"template": "invokes templates (recursion)",
	"block":    "defines templates (recursion)",
}

// nonHermetic are sprig's own non-hermetic functions; TestCuratedFuncs checks
// that HermeticTxtFuncMap already leaves them out.
var nonHermetic = []string{"date", "date_in_zone", "date_modify", "now", "htmlDate", "htmlDateInZone",
	"dateInZone", "dateModify", "randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes",
	"uuidv4", "env", "expandenv", "getHostByName"}

// builtinNames are text/template's builtin functions that stay available.
var builtinNames = map[string]bool{"and": true, "or": true, "not": true, "len": true, "index": true,
	"slice": true, "eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"print": true, "printf": true, "println": true, "html": true, "js": true, "urlquery": true}

// ParamFunc is the function that reads a caller-supplied parameter of a
// declared API: {{param "id"}}. Vars reports it as ParamPrefix + "id", and
// Render reads it from vals under that name; since a setting's name is an
// identifier, it can never hold the prefix, and a parameter can never stand in
// for a setting.
const ParamFunc = "param"

// ParamPrefix is the prefix of a parameter's name among a template's values.
const ParamPrefix = "param:"

// reservedPrefix starts the names of the escaping functions Compile appends;
// templates cannot call them.
const reservedPrefix = "_lk_"

// userFuncs is the curated function map: sprig's hermetic functions minus
// dropped, plus bounded versions of the printing builtins, every function
// wrapped by limitResult.
var userFuncs = buildFuncs()

// allFuncs is userFuncs plus the escaping functions.
var allFuncs = func() ttemplate.FuncMap {
	m := ttemplate.FuncMap{}
	for k, v := range userFuncs {
		m[k] = v
	}
	for k, v := range escapers {
		m[k] = v
	}
	return m
}()

func buildFuncs() ttemplate.FuncMap {
	m := sprig.HermeticTxtFuncMap()
	for name := range dropped {
		delete(m, name)
	}
	m["print"] = fmt.Sprint
	m["println"] = fmt.Sprintln
	m["printf"] = boundedPrintf
	m["html"] = ttemplate.HTMLEscaper
	m["js"] = ttemplate.JSEscaper
	m["urlquery"] = ttemplate.URLQueryEscaper
	m["join"] = boundedJoin
	m["replace"] = boundedReplace
	for name, fn := range m {
		m[name] = limitResult(fn)
	}
	return m
}

// FuncNames returns the sorted names of the functions templates may call,
// text/template's builtins included, for documentation and editors.
func FuncNames() []string {
	var names []string
	for name := range userFuncs {
		names = append(names, name)
	}
	for name := range builtinNames {
		if _, ok := userFuncs[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// isFunc reports whether name is a function a template may call.
func isFunc(name string) bool {
	_, ok := userFuncs[name]
	return ok || builtinNames[name]
}

// needsArgs reports whether the function name cannot be called without
// arguments, so that a bare {{name}} is surely meant as a value.
func needsArgs(name string) bool {
	fn, ok := userFuncs[name]
	if !ok {
		return true // the remaining builtins all take arguments
	}
	t := reflect.TypeOf(fn)
	n := t.NumIn()
	if t.IsVariadic() {
		n--
	}
	return n > 0
}

// limitError is a render error raised by the guards; its message holds no value.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

var errValueTooLarge = &limitError{fmt.Sprintf("a function result exceeds %d bytes", MaxOutput)}

// limitResult wraps fn so that a result larger than MaxOutput (counting
// string bytes and 8 per list or dictionary element, nested at most 32 deep)
// stops rendering. text/template turns the panic into an error.
func limitResult(fn any) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		var out []reflect.Value
		if t.IsVariadic() {
			out = v.CallSlice(args)
		} else {
			out = v.Call(args)
		}
		budget := MaxOutput
		if len(out) > 0 && !weigh(out[0], 0, &budget) {
			panic(errValueTooLarge)
		}
		return out
	}).Interface()
}

// weigh subtracts the size of v from *budget and reports whether it stayed
// within budget.
func weigh(v reflect.Value, depth int, budget *int) bool {
	if depth > 32 {
		return false
	}
	if *budget < 0 {
		return false
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return true
		}
		return weigh(v.Elem(), depth+1, budget)
	case reflect.String:
		*budget -= v.Len()
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			*budget -= v.Len()
			break
		}
		for i := 0; i < v.Len(); i++ {
			*budget -= 8
			if !weigh(v.Index(i), depth+1, budget) {
				return false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			*budget -= 8
			if !weigh(it.Key(), depth+1, budget) || !weigh(it.Value(), depth+1, budget) {
				return false
			}
		}
	default:
		*budget -= 8
	}
	return *budget >= 0
}

// boundedPrintf is fmt.Sprintf refusing '*' and widths or precisions of 1000
// or more, which fmt would allocate before any limit could see them.
func boundedPrintf(format string, args ...any) (string, error) {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0", format[j]) >= 0 {
			j++
		}
		for j < len(format) {
			c := format[j]
			if c == '*' {
				return "", &limitError{"printf: '*' widths are not allowed"}
			}
			if c >= '1' && c <= '9' {
				k := j
				for k < len(format) && format[k] >= '0' && format[k] <= '9' {
					k++
				}
				if k-j > 3 {
					return "", &limitError{"printf: widths and precisions must be below 1000"}
				}
				j = k
				continue
			}
			if c == '.' || c == '0' || c == '[' || c == ']' {
				j++
				continue
			}
			break
		}
		i = j
	}
	return fmt.Sprintf(format, args...), nil
}

// boundedJoin is sprig's join with the result size checked before it is built.
func boundedJoin(sep string, v any) (string, error) {
	list := toStrings(v)
	n := len(sep) * len(list)
	for _, s := range list {
		n += len(s)
		if n > MaxOutput {
			return "", errValueTooLarge
		}
	}
	if n > MaxOutput {
		return "", errValueTooLarge
	}
	return strings.Join(list, sep), nil
}

// toStrings converts a list (or a single value) to strings as sprig's join does.
func toStrings(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case nil:
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return []string{fmt.Sprint(v)}
	}
	out := make([]string, 0, rv.Len())
	for i := 0; i < rv.Len(); i++ {
		e := rv.Index(i).Interface()
		if e == nil {
			continue
		}
		if s, ok := e.(string); ok {
			out = append(out, s)
		} else {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

// boundedReplace is sprig's replace (old, new, src) with the result size
// checked before it is built.
func boundedReplace(old, new, src string) (string, error) {
	count := strings.Count(src, old)
	if count > 0 && len(new) > len(old) && len(src)+count*(len(new)-len(old)) > MaxOutput {
		return "", errValueTooLarge
	}
	return strings.ReplaceAll(src, old, new), nil
}
