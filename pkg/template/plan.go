package template

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// plan is a JSON body template reduced, at compile time, to what it does:
// a flat object whose members are literals or strings made of literal text
// and plain value references. RenderParams executes a plan without
// text/template and without JSON encoding and decoding; Compile keeps a plan
// only when it gives the same parameters as the full render for a set of
// hostile sample values.
type plan []planParam

type planParam struct {
	key   string
	parts []planPart // concatenated; a literal when it has no ref
}

type planPart struct {
	lit string
	ref string // a value's name; lit is ignored
}

var (
	actionRE    = regexp.MustCompile(`\{\{.*?\}\}`)
	plainRefRE  = regexp.MustCompile(`^\{\{\s*\.?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)
	planMarkRE  = regexp.MustCompile("\x00LK([0-9]+)\x00")
	planSamples = []string{"", "plain", `q"uote`, `back\slash`, "line\nbreak", "tab\t", "ünï ✓", "\xff\xfe", "{{x}}", `","k":"v`, "\u2028"}
)

// buildPlan returns the plan of a JSON body template, or nil when the
// template does more than a plan can.
func buildPlan(src string) plan {
	var refs []string
	inString := false
	var b strings.Builder
	last := 0
	for _, loc := range actionRE.FindAllStringIndex(src, -1) {
		text := src[last:loc[0]]
		for i := 0; i < len(text); i++ {
			switch {
			case inString && text[i] == '\\':
				i++
			case text[i] == '"':
				inString = !inString
			}
		}
		b.WriteString(text)
		m := plainRefRE.FindStringSubmatch(src[loc[0]:loc[1]])
		if m == nil || notValues[m[1]] {
			return nil
		}
		mark := fmt.Sprintf(`\u0000LK%d\u0000`, len(refs))
		refs = append(refs, m[1])
		if inString {
			b.WriteString(mark)
		} else {
			b.WriteString(`"` + mark + `"`)
		}
		last = loc[1]
	}
	b.WriteString(src[last:])
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(b.String()), &obj); err != nil {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if planMarkRE.MatchString(k) {
			return nil // a value in a key
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p := make(plan, 0, len(keys))
	for _, k := range keys {
		raw := obj[k]
		if raw[0] != '"' {
			if planMarkRE.Match(raw) || strings.Contains(string(raw), `\u0000LK`) {
				return nil // a value nested in an object or a list
			}
			lit, err := rawValue(raw)
			if err != nil {
				return nil
			}
			p = append(p, planParam{key: k, parts: []planPart{{lit: lit}}})
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil
		}
		var parts []planPart
		at := 0
		for _, m := range planMarkRE.FindAllStringSubmatchIndex(s, -1) {
			if m[0] > at {
				parts = append(parts, planPart{lit: s[at:m[0]]})
			}
			var n int
			fmt.Sscanf(s[m[2]:m[3]], "%d", &n)
			parts = append(parts, planPart{ref: refs[n]})
			at = m[1]
		}
		if at < len(s) || len(parts) == 0 {
			parts = append(parts, planPart{lit: s[at:]})
		}
		p = append(p, planParam{key: k, parts: parts})
	}
	return p
}

// params executes the plan.
func (p plan) params(name string, vals map[string]string) ([]Param, error) {
	out := make([]Param, len(p))
	for i, pp := range p {
		out[i].Key = pp.key
		if len(pp.parts) == 1 && pp.parts[0].ref == "" {
			out[i].Value = pp.parts[0].lit
			continue
		}
		var b strings.Builder
		for _, part := range pp.parts {
			if part.ref == "" {
				b.WriteString(part.lit)
				continue
			}
			v, ok := vals[part.ref]
			if !ok {
				return nil, fmt.Errorf("template %q: %w", name, &MissingValueError{Name: part.ref})
			}
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("template %q: cannot render: %w", name, invalidUTF8(part.ref))
			}
			b.WriteString(v)
		}
		if b.Len() > MaxOutput {
			return nil, fmt.Errorf("template %q: cannot render: %w", name, errOutputTooLarge)
		}
		out[i].Value = b.String()
	}
	return out, nil
}

// samePlan reports whether the plan gives the full render's parameters for
// every sample value, and refuses the invalid UTF-8 the full render refuses.
func (t *Template) samePlan(p plan) bool {
	for _, sample := range planSamples {
		vals := map[string]string{}
		for _, v := range t.vars {
			vals[v] = sample + v
		}
		want, err := t.renderParams(vals)
		got, perr := p.params(t.name, vals)
		if err != nil || perr != nil {
			if err != nil && perr != nil && !utf8.ValidString(sample) && len(t.vars) > 0 {
				continue // both refuse invalid UTF-8, as they must
			}
			return false
		}
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
	}
	return true
}
