package template

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"

	"github.com/Masterminds/sprig/v3"
)

// MaxValueSize caps every value a function returns and the output of a
// render, in bytes.
const MaxValueSize = 64 << 10

// MaxSourceSize caps a template's source, in bytes.
const MaxSourceSize = 16 << 10

// removed are the functions of sprig's hermetic map that Latchkey does not
// offer: those whose cost a template can make unbounded (repeat, until, seq,
// indent widths, random strings of any length), key and certificate
// generation, password hashing and derivation, and anything non-deterministic.
// sprig's hermetic map already leaves out env, expandenv and the other
// functions that read the machine.
var removed = []string{
	"repeat", "until", "untilStep", "seq",
	"indent", "nindent", "wrap", "wrapWith",
	"randAlpha", "randAlphaNum", "randAscii", "randNumeric", "randBytes", "randInt", "shuffle",
	"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
	"genSignedCert", "genSignedCertWithKey", "buildCustomCert", "derivePassword", "bcrypt", "htpasswd",
	"encryptAES", "decryptAES", "uuidv4", "now", "date", "dateInZone", "date_in_zone", "dateModify",
	"date_modify", "mustDateModify", "must_date_modify", "ago", "unixEpoch", "htmlDate", "htmlDateInZone",
	"getHostByName", "env", "expandenv",
}

var errTooLarge = fmt.Errorf("a value is larger than %d bytes", MaxValueSize)

// funcMap is the curated function map, each function wrapped so that a
// result over MaxValueSize ends the render.
var funcMap = buildFuncMap()

func buildFuncMap() map[string]any {
	m := map[string]any{}
	for name, fn := range sprig.HermeticTxtFuncMap() {
		m[name] = fn
	}
	for _, name := range removed {
		delete(m, name)
	}
	m["printf"] = safePrintf
	for name, fn := range m {
		m[name] = guard(fn)
	}
	return m
}

// FuncNames returns the names of the functions templates may call, sorted.
func FuncNames() []string {
	names := make([]string, 0, len(funcMap))
	for n := range funcMap {
		if n[0] != '_' {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

var widthRE = regexp.MustCompile(`%[-+# 0]*(\*|\d{4,}|\.\*|\.\d{4,}|\d*\.\d{4,})`)

// safePrintf is fmt.Sprintf without widths or precisions of a thousand or
// more, or taken from arguments, which could allocate without bound.
func safePrintf(format string, args ...any) (string, error) {
	if widthRE.MatchString(format) {
		return "", errors.New("printf: widths and precisions must be under 1000 and written in the format")
	}
	return fmt.Sprintf(format, args...), nil
}

// guard wraps fn so that a string, slice or map result over the size cap
// fails the render; text/template turns the panic into an error.
func guard(fn any) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return fn
	}
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		var out []reflect.Value
		if t.IsVariadic() {
			out = v.CallSlice(args)
		} else {
			out = v.Call(args)
		}
		for _, r := range out {
			if tooLarge(r) {
				panic(errTooLarge)
			}
		}
		return out
	}).Interface()
}

func tooLarge(r reflect.Value) bool {
	switch r.Kind() {
	case reflect.String:
		return r.Len() > MaxValueSize
	case reflect.Slice, reflect.Array, reflect.Map:
		return r.Len() > MaxValueSize/8
	case reflect.Interface:
		if !r.IsNil() {
			return tooLarge(r.Elem())
		}
	}
	return false
}
