package latchkey

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxDocumentSize is the largest app document accepted, in bytes.
const MaxDocumentSize = 1 << 20

// Formats of an app document.
const (
	FormatJSON = "json"
	FormatYAML = "yaml"
)

// ParseApp reads an app document, JSON when it starts with '{' and YAML
// otherwise (files, whose name may not say). A document that is not
// syntactically valid, or names an unknown field, gets an EINVALID error
// naming the place; its content is checked by Validate.
func ParseApp(data []byte) (App, error) {
	format := FormatYAML
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		format = FormatJSON
	}
	return ParseAppAs(data, format)
}

// ParseAppAs reads an app document in format (FormatJSON or FormatYAML),
// as the Content-Type of a request says, and refuses a document that is
// not in that format, is not valid UTF-8, or is not one object (a JSON
// null or a YAML scalar is no document).
func ParseAppAs(data []byte, format string) (App, error) {
	var app App
	if len(data) > MaxDocumentSize {
		return app, Errorf(EINVALID, "the document is larger than %d bytes", MaxDocumentSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return app, &Error{Code: EINVALID, Message: "the document is empty", Fields: []FieldError{{Field: "", Message: "is empty"}}}
	}
	if !utf8.Valid(trimmed) {
		return app, documentError("", errors.New("the document is not valid UTF-8"))
	}
	switch format {
	case FormatJSON:
		if trimmed[0] != '{' {
			return App{}, documentError("", errors.New("the document must be a JSON object"))
		}
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&app); err != nil {
			// The path with indexes (settings[1].name) where the document
			// shows one; encoding/json's own (settings.name) otherwise.
			field := failingField(trimmed, "json")
			if field == "" {
				field = jsonErrorField(err)
			}
			return App{}, documentError(field, err)
		}
		if dec.More() {
			return App{}, documentError("", errors.New("unexpected data after the document"))
		}
		if f, ok := NullField(trimmed, reflect.TypeFor[App]()); ok {
			return App{}, &Error{Code: EINVALID, Message: "the document has a null value",
				Fields: []FieldError{{Field: f, Message: NullMessage}}}
		}
		return app, nil
	case FormatYAML:
		var node yaml.Node
		if err := yaml.Unmarshal(trimmed, &node); err != nil {
			return App{}, documentError("", err)
		}
		if len(node.Content) != 1 || node.Content[0].Kind != yaml.MappingNode {
			return App{}, documentError("", errors.New("the document must be a YAML mapping"))
		}
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(&app); err != nil {
			return App{}, documentError(failingField(trimmed, "yaml"), err)
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); err != io.EOF {
			return App{}, documentError("", errors.New("only one document is allowed"))
		}
		return app, nil
	}
	return App{}, Errorf(EINVALID, "unknown document format %q", format)
}

// failingField finds, in a document whose decoding failed without naming
// the place (a value's own UnmarshalText, such as a Duration's, or a YAML
// type error, says only what is wrong), the path of the first value that
// cannot be read into its field, written as Validate writes paths
// (oauth_configs[0].refresh_margin). tag is the struct tag the format's
// decoder reads (json or yaml). It returns "" when no value fails alone.
func failingField(data []byte, tag string) string {
	return FailingField(data, reflect.TypeFor[App](), tag)
}

// FailingField is failingField for a document of any type t (a pointer is
// followed): the HTTP API names with it the field of a JSON body whose
// value its decoder refused without saying where.
func FailingField(data []byte, t reflect.Type, tag string) string {
	p, _ := findInDocument(data, t, tag, func(n *yaml.Node, t reflect.Type) (found, descend bool) {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return false, false
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		text := reflect.PointerTo(t).Implements(textUnmarshalerType)
		if tag == "json" && !jsonKindFits(n, t, text) {
			// encoding/json, unlike YAML, reads no number as a string; its
			// own error names the field without the index.
			return true, false
		}
		switch {
		case text || (t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && t.Kind() != reflect.Map):
			return n.Decode(reflect.New(t).Interface()) != nil, false
		case t.Kind() == reflect.Slice:
			return n.Kind != yaml.SequenceNode, true
		default:
			return n.Kind != yaml.MappingNode, true
		}
	})
	return p
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// findInDocument walks the document data as a decoder reading struct tag
// tag reads it into a value of type t, and returns the path of the first
// part visit finds (written as Validate writes paths; "" for the whole
// document) and whether there is one. visit is given each part (aliases
// followed) with the type it is read into, and says whether it is the part
// sought and whether to walk into it.
func findInDocument(data []byte, t reflect.Type, tag string, visit func(n *yaml.Node, t reflect.Type) (found, descend bool)) (string, bool) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) != 1 {
		return "", false
	}
	return findInNode(root.Content[0], t, tag, "", 0, visit)
}

func findInNode(n *yaml.Node, t reflect.Type, tag, path string, depth int, visit func(*yaml.Node, reflect.Type) (bool, bool)) (string, bool) {
	if depth > 64 {
		return "", false
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	found, descend := visit(n, t)
	if found {
		return path, true
	}
	if !descend {
		return "", false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if f, ok := fieldByTag(t, tag, key); ok {
				if p, found := findInNode(n.Content[i+1], f.Type, tag, joinPath(path, key), depth+1, visit); found {
					return p, true
				}
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if p, found := findInNode(c, t.Elem(), tag, fmt.Sprintf("%s[%d]", path, i), depth+1, visit); found {
				return p, true
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, found := findInNode(n.Content[i+1], t.Elem(), tag, joinPath(path, n.Content[i].Value), depth+1, visit); found {
				return p, true
			}
		}
	}
	return "", false
}

// jsonKindFits reports whether encoding/json would read the JSON value n
// into a value of type t without a type error (text says t reads itself
// from a JSON string).
func jsonKindFits(n *yaml.Node, t reflect.Type, text bool) bool {
	if n.Kind != yaml.ScalarNode {
		return !text
	}
	switch {
	case text || t.Kind() == reflect.String:
		return n.Tag == "!!str"
	case t.Kind() == reflect.Bool:
		return n.Tag == "!!bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return n.Tag == "!!int" || n.Tag == "!!float"
	}
	return true
}

// fieldByTag finds the field of struct type t that the key names in the
// given struct tag; encoding/json matches names regardless of case.
func fieldByTag(t reflect.Type, tag, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key || (tag == "json" && strings.EqualFold(name, key)) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var yamlFieldRE = regexp.MustCompile(`field (\S+) not found`)

func documentError(field string, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if field == "" {
		if m := yamlFieldRE.FindStringSubmatch(msg); m != nil {
			field = m[1]
		}
	}
	return &Error{Code: EINVALID, Message: "the document cannot be read", Fields: []FieldError{{Field: field, Message: msg}}}
}

func jsonErrorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		return strings.Trim(strings.TrimPrefix(s, "json: unknown field "), `"`)
	}
	return ""
}

// Redacted stands in for a secret value in every listing. Sent back in an
// update, it keeps the stored value.
const Redacted = "********"

var secretNameRE = regexp.MustCompile(`(?i)(secret|password|passwd|token|private|api_?key)`)

// LooksSecret reports whether a value fixed in a config under name is
// treated as secret when the name declares no setting.
func LooksSecret(name string) bool { return secretNameRE.MatchString(name) }

// Redact returns a copy of the app whose secret values fixed in configs, and
// defaults of secret settings, are replaced by Redacted.
func (a App) Redact() App {
	out := a
	out.Settings = make([]Setting, len(a.Settings))
	for i, s := range a.Settings {
		if s.Secret && s.Default != "" {
			s.Default = Redacted
		}
		out.Settings[i] = s
	}
	out.OAuthConfigs = make([]OAuthConfig, len(a.OAuthConfigs))
	for i, c := range a.OAuthConfigs {
		if len(c.Values) > 0 {
			vals := make(map[string]string, len(c.Values))
			for k, v := range c.Values {
				if a.configValueSecret(k) {
					v = Redacted
				}
				vals[k] = v
			}
			c.Values = vals
		}
		out.OAuthConfigs[i] = c
	}
	return out
}

// KeepRedacted restores, in a new version of the app, the config values and
// setting defaults that came back as Redacted from the stored version old.
func (a *App) KeepRedacted(old App) {
	for i := range a.Settings {
		s := &a.Settings[i]
		if prev, ok := old.Setting(s.Name); ok && s.Default == Redacted && prev.Default != "" {
			s.Default = prev.Default
		}
	}
	for i := range a.OAuthConfigs {
		c := &a.OAuthConfigs[i]
		prev, ok := old.OAuthConfig(c.Name)
		if !ok {
			continue
		}
		for k, v := range c.Values {
			if v == Redacted {
				if pv, ok := prev.Values[k]; ok {
					c.Values[k] = pv
				}
			}
		}
	}
}

// ValidateValues checks the values a new version of the document fixes (the
// configs' values and the settings' defaults), once KeepRedacted has
// restored the stored ones: none may be Redacted, which stands for a value
// in listings and exports and is never a value itself, so that a redacted
// export imported where no value is stored is refused rather than saved
// with eight asterisks as its secret.
func (a *App) ValidateValues() error {
	var fe FieldErrors
	for i, s := range a.Settings {
		if s.Default == Redacted {
			fe.Add(fmt.Sprintf("settings[%d].default", i), "is the redaction placeholder %q, not a value", Redacted)
		}
	}
	for i, c := range a.OAuthConfigs {
		names := make([]string, 0, len(c.Values))
		for k := range c.Values {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if c.Values[k] == Redacted {
				fe.Add(fmt.Sprintf("oauth_configs[%d].values.%s", i, k),
					"is the redaction placeholder %q, and config %q stores no value to keep: write the value itself", Redacted, c.Name)
			}
		}
	}
	return fe.Err("the app document holds redaction placeholders instead of values")
}

func (a *App) configValueSecret(name string) bool {
	if s, ok := a.Setting(name); ok {
		return s.Secret
	}
	return LooksSecret(name)
}

// String implements fmt.Stringer without any value, so that printing an app
// by mistake shows no secret.
func (a App) String() string { return fmt.Sprintf("App(%s rev %d)", a.Name, a.Revision) }
