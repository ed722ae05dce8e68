package latchkey

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// variableRef matches ${NAME}, ${NAME:-default} and the escape $${. Only the
// braced form is a reference: a bare $ stays as written, since JSONPath
// ($.access_token) and Go template variables ({{$x}}) use it.
var variableRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}\n]*))?\}`)

// ExpandVariables replaces the variable references of an app document read
// from a file (the apps folder of `latchkey serve --apps`, `latchkey apply
// -f`) before it is parsed: ${NAME} becomes lookup(NAME), ${NAME:-default}
// the default when NAME is unset or empty, and $${ a literal ${. A reference
// to an unset variable without a default is an error naming it and its
// line, never an empty string. The values are inserted as text, as an
// operator wrote them; documents sent to the API are never expanded, so an
// API caller cannot read the server's environment through them.
func ExpandVariables(data []byte, lookup func(name string) (string, bool)) ([]byte, error) {
	var out bytes.Buffer
	var fields []FieldError
	var names []string
	seen := map[string]bool{}
	last := 0
	for _, m := range variableRef.FindAllSubmatchIndex(data, -1) {
		out.Write(data[last:m[0]])
		last = m[1]
		if m[2] < 0 { // $${
			out.WriteString("${")
			continue
		}
		name := string(data[m[2]:m[3]])
		if v, ok := lookup(name); ok && v != "" {
			out.WriteString(v)
			continue
		}
		if m[4] >= 0 {
			out.Write(data[m[6]:m[7]])
			continue
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
			line := 1 + bytes.Count(data[:m[0]], []byte("\n"))
			fields = append(fields, FieldError{Field: "${" + name + "}",
				Message: fmt.Sprintf("line %d: %s is not set and has no default (write ${%s:-default})", line, name, name)})
		}
	}
	if len(fields) > 0 {
		return nil, &Error{Code: EINVALID, Message: "the document refers to unset variables: " + strings.Join(names, ", "), Fields: fields}
	}
	out.Write(data[last:])
	return out.Bytes(), nil
}
