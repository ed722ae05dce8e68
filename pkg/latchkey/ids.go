package latchkey

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxIDLength is the most bytes an org or user id may have.
const MaxIDLength = 200

// IDRule is the grammar of org and user ids, in the words every error uses.
const IDRule = "must be 1 to 200 bytes of UTF-8 (NFC) letters, marks, digits, punctuation or symbols, " +
	`without spaces, control characters, '/', '\', '%', '?' or '#', and not "." or ".."`

// NameRule is the grammar of app, OAuth config and API names.
const NameRule = "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"

// SettingNameRule is the grammar of setting names.
const SettingNameRule = "must be an identifier (letters, digits, '_', not starting with a digit), at most 63 characters, " +
	"not a template keyword (true, false, nil, if, range, …) and not starting with \"_lk_\""

// TokenRule is the grammar of opaque ids and tokens Latchkey issues: API
// key and webhook ids, link tokens.
const TokenRule = "must be 1 to 128 letters, digits, '-' or '_'"

// CheckID returns an error, in the words of IDRule, unless s may identify an
// org or a user: 1 to MaxIDLength bytes of valid UTF-8 in Unicode
// normalization form C, each character a letter, mark, number, punctuation
// or symbol (Unicode categories L, M, N, P, S) other than '/', '\', '%',
// '?' and '#', and not the dot segments "." and "..". So an id never holds
// a space, a control or format character or a byte that is not UTF-8, reads
// the same decoded once or twice, and one id never looks like another.
func CheckID(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty: it %s", IDRule)
	case len(s) > MaxIDLength:
		return fmt.Errorf("is longer than %d bytes: it %s", MaxIDLength, IDRule)
	case !utf8.ValidString(s):
		return fmt.Errorf("is not valid UTF-8: it %s", IDRule)
	case s == "." || s == "..":
		return fmt.Errorf("is a dot segment: it %s", IDRule)
	}
	for _, r := range s {
		if strings.ContainsRune(`/\%?#`, r) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) {
			return fmt.Errorf("holds %s: it %s", describeRune(r), IDRule)
		}
	}
	if !norm.NFC.IsNormalString(s) {
		return fmt.Errorf("is not in Unicode normalization form C: it %s", IDRule)
	}
	return nil
}

// ValidID reports whether s may identify an org or a user (CheckID).
func ValidID(s string) bool { return CheckID(s) == nil }

// ValidToken reports whether s has the form of an opaque id or token that
// Latchkey issues (TokenRule).
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// reservedSettingNames are identifiers a template cannot use as a bare
// value: text/template's keywords and constants, and "call", which is
// refused as a function.
var reservedSettingNames = map[string]bool{
	"true": true, "false": true, "nil": true, "if": true, "else": true, "end": true, "range": true, "with": true,
	"define": true, "template": true, "block": true, "break": true, "continue": true, "call": true,
}

// ReservedSettingPrefix starts names that belong to Latchkey's template
// machinery; no setting may take one.
const ReservedSettingPrefix = "_lk_"

// CheckText returns an error unless s is text a value may hold: valid UTF-8
// without NUL. Other control characters (a PEM key's line breaks) are
// allowed.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("holds a NUL character")
	}
	return nil
}

// CheckLine returns an error unless s is one line of text: valid UTF-8
// without control characters (C0, DEL, C1), as names and labels are.
func CheckLine(s string) error {
	if err := CheckText(s); err != nil {
		return err
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("holds %s", describeRune(r))
		}
	}
	return nil
}

// CheckStrings walks v (a struct, map, slice or string, or a pointer to
// one) and records in fe every string that CheckText refuses, map keys
// included, under its path as written in JSON ("oauth_configs[0].label",
// "values.client_id"), starting at prefix.
func CheckStrings(v any, prefix string, fe *FieldErrors) {
	walkStrings(reflect.ValueOf(v), prefix, func(path, s string, key bool) {
		if err := CheckText(s); err != nil {
			if key {
				fe.Add(joinPath(path, strconv.QuoteToASCII(s)), "the name %v", err)
			} else {
				fe.Add(path, "%v", err)
			}
		}
	})
}

// walkStrings calls visit with every string in v and its path; map keys
// are visited with key set and the path of their map.
func walkStrings(v reflect.Value, path string, visit func(path, s string, key bool)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, visit)
		}
	case reflect.String:
		visit(path, v.String(), false)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes, not text
		}
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path+"["+strconv.Itoa(i)+"]", visit)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			if k.Kind() == reflect.String {
				visit(path, k.String(), true)
				if CheckText(k.String()) != nil {
					continue // its value is named by a key that cannot be
				}
			}
			walkStrings(iter.Value(), joinPath(path, fmt.Sprint(k.Interface())), visit)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name := sf.Name
			if tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); tag == "-" {
				continue
			} else if tag != "" {
				name = tag
			}
			if sf.Anonymous {
				walkStrings(v.Field(i), path, visit)
				continue
			}
			walkStrings(v.Field(i), joinPath(path, name), visit)
		}
	}
}

var (
	actionRE     = regexp.MustCompile(`\{\{.*?\}\}`)
	identifierRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// templateNames returns every identifier inside a template action
// ({{…}}) of the strings in vs: the names the templates may use as values
// (and the functions they call, which does no harm here).
func templateNames(vs ...any) map[string]bool {
	names := map[string]bool{}
	for _, v := range vs {
		walkStrings(reflect.ValueOf(v), "", func(_, s string, key bool) {
			if key {
				return
			}
			for _, a := range actionRE.FindAllString(s, -1) {
				for _, id := range identifierRE.FindAllString(a, -1) {
					names[id] = true
				}
			}
		})
	}
	return names
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// describeRune names a character in an error message without writing the
// character itself, which may be invisible or break a line.
func describeRune(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case unicode.IsControl(r):
		return fmt.Sprintf("the control character %U", r)
	case unicode.IsSpace(r):
		return fmt.Sprintf("the space character %U", r)
	case unicode.IsGraphic(r):
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("the character %U", r)
}

// usesValue reports whether a value fixed in the config under name, which
// names no setting, is used: by one of the config's templates or the app's
// APIs, or, for client_id and client_secret, by the engine's client
// authentication when the config does not template them itself.
func (c *OAuthConfig) usesValue(a *App, name string) bool {
	if (name == "client_id" && c.ClientID == "") || (name == "client_secret" && c.ClientSecret == "") {
		return true
	}
	cfg := *c
	cfg.Values = nil
	return templateNames(cfg, a.APIs)[name]
}
