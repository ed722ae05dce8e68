package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Masked replaces a secret in a trace.
const Masked = "••••••"

// masker masks a trace's text: the known secret values wherever they
// appear, and the values of headers, query parameters and body fields whose
// names say they hold credentials, whatever their values.
type masker struct {
	// values are the secrets, longest first, each also as a URL or a form
	// encodes it.
	values []string
}

func newMasker(secrets []string) masker {
	if len(secrets) == 0 {
		return masker{}
	}
	s := make([]string, 0, 2*len(secrets))
	for _, v := range secrets {
		s = append(s, v)
		for _, e := range []string{url.QueryEscape(v), url.PathEscape(v)} {
			if e != v {
				s = append(s, e)
			}
		}
	}
	// Longest first, so that a secret that contains another is masked whole.
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	return masker{values: slices.Compact(s)}
}

// text masks the known secrets in s. A trace has a few secrets and short
// texts: a search for each is cheaper than building a strings.Replacer.
func (m masker) text(s string) string {
	if s == "" {
		return s
	}
	for _, v := range m.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Masked)
		}
	}
	return s
}

// sensitive reports whether a header, parameter or field called name holds
// a credential.
func sensitive(name string) bool {
	n := strings.ToLower(name)
	// What describes a credential is no credential: its type, its hint,
	// its lifetime, where to send it.
	for _, suffix := range []string{"_type", "_hint", "expires_in", "_uri", "_url", "_endpoint"} {
		if strings.HasSuffix(n, suffix) {
			return false
		}
	}
	switch n {
	case "code", "key", "sig", "auth", "state", "nonce", "otp", "pin":
		return true
	}
	for _, part := range []string{"token", "secret", "password", "passwd", "authorization", "cookie", "api-key", "api_key",
		"apikey", "signature", "assertion", "verifier", "session", "credential", "private"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// headers flattens and masks a header.
func (m masker) headers(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		switch {
		case strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Proxy-Authorization"):
			// The scheme says how the request authenticated; the rest is
			// the credential.
			if scheme, _, ok := strings.Cut(v, " "); ok {
				v = scheme + " " + Masked
			} else {
				v = Masked
			}
		case sensitive(k):
			v = Masked
		default:
			v = m.text(v)
		}
		out[k] = v
	}
	return out
}

// parsedURL is a step's URL read once, for learn and for the masker.
type parsedURL struct {
	raw string
	u   *url.URL   // nil when raw does not parse
	q   url.Values // u's query
}

func parseURL(raw string) parsedURL {
	p := parsedURL{raw: raw}
	if raw == "" {
		return p
	}
	if u, err := url.Parse(raw); err == nil {
		p.u, p.q = u, u.Query()
	}
	return p
}

// learn tells add the values of credential parameters of p's query.
func (p parsedURL) learn(add func(string)) {
	for k, vs := range p.q {
		if sensitive(k) {
			for _, v := range vs {
				add(v)
			}
		}
	}
}

// url masks a URL: its password, its credential parameters, and the known
// secrets in each part, found decoded (before escaping can hide them) and
// escaped again around the mask.
func (m masker) url(p parsedURL) string {
	if p.raw == "" {
		return ""
	}
	u := p.u
	if u == nil {
		return m.text(p.raw)
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme)
		b.WriteByte(':')
	}
	if u.Host != "" || u.User != nil {
		b.WriteString("//")
		if u.User != nil {
			b.WriteString(escapeAround(m.text(u.User.Username()), url.QueryEscape))
			if _, ok := u.User.Password(); ok {
				b.WriteString(":" + Masked)
			}
			b.WriteByte('@')
		}
		b.WriteString(m.text(u.Host))
	}
	b.WriteString(escapeAround(m.text(u.Path), func(s string) string { return (&url.URL{Path: s}).EscapedPath() }))
	if u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(m.query(p.q))
	}
	if u.Fragment != "" {
		b.WriteByte('#')
		b.WriteString(escapeAround(m.text(u.Fragment), url.PathEscape))
	}
	return m.text(b.String())
}

// escapeAround escapes s with escape, leaving the masks in it as they are.
func escapeAround(s string, escape func(string) string) string {
	parts := strings.Split(s, Masked)
	for i, p := range parts {
		parts[i] = escape(p)
	}
	return strings.Join(parts, Masked)
}

// query encodes q, in key order, with the values of credential parameters
// masked and the known secrets masked in the others, the mask left
// unescaped so that it reads as one.
func (m masker) query(q url.Values) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escapeAround(m.text(k), url.QueryEscape))
			b.WriteByte('=')
			if sensitive(k) {
				b.WriteString(Masked)
			} else {
				b.WriteString(escapeAround(m.text(v), url.QueryEscape))
			}
		}
	}
	return b.String()
}

// parsedBody is a request's or an answer's body read once, for learn and
// for the masker: its JSON document or its form, when it is one.
type parsedBody struct {
	raw    []byte
	doc    any // the JSON document, when hasDoc
	hasDoc bool
	form   url.Values // the form, when not nil
}

func parseBody(contentType string, b []byte) parsedBody {
	p := parsedBody{raw: b}
	if len(b) == 0 {
		return p
	}
	ct := strings.ToLower(contentType)
	trimmed := bytes.TrimSpace(b)
	switch {
	case strings.Contains(ct, "json") || (len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')):
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		p.hasDoc = d.Decode(&p.doc) == nil
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		if q, err := url.ParseQuery(string(b)); err == nil {
			p.form = q
		}
	}
	return p
}

// learn tells add the text values p holds under credential names.
func (p parsedBody) learn(add func(string)) {
	switch {
	case p.hasDoc:
		walkSensitive(p.doc, add)
	case p.form != nil:
		parsedURL{q: p.form}.learn(add)
	}
}

// body masks a body: JSON and form fields with credential names, then
// every known secret. A body that is not text is described, not kept.
func (m masker) body(p parsedBody) string {
	if len(p.raw) == 0 {
		return ""
	}
	if p.hasDoc {
		if out, err := json.MarshalIndent(maskJSON(p.doc), "", "  "); err == nil {
			return m.text(string(out))
		}
	}
	if p.form != nil {
		return m.text(m.query(p.form))
	}
	if !utf8.Valid(p.raw) {
		return fmt.Sprintf("(%d bytes that are not text)", len(p.raw))
	}
	return m.text(string(p.raw))
}

// maskJSON masks the text values of credential-named members, at any
// depth; numbers and booleans stay (an error's numeric code, a flag).
func maskJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if sensitive(k) {
				if masked, ok := maskText(val); ok {
					t[k] = masked
					continue
				}
			}
			t[k] = maskJSON(val)
		}
	case []any:
		for i := range t {
			t[i] = maskJSON(t[i])
		}
	}
	return v
}

// maskText masks a string, or each string of an array of strings.
func maskText(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		return Masked, true
	case []any:
		for _, e := range t {
			if _, ok := e.(string); !ok {
				return v, false
			}
		}
		out := make([]any, len(t))
		for i := range out {
			out[i] = Masked
		}
		return out, true
	}
	return v, false
}

// walkSensitive calls add with each text value of a credential-named
// member of doc, at any depth.
func walkSensitive(doc any, add func(string)) {
	switch t := doc.(type) {
	case map[string]any:
		for k, v := range t {
			if s, ok := v.(string); ok && sensitive(k) {
				add(s)
				continue
			}
			walkSensitive(v, add)
		}
	case []any:
		for _, v := range t {
			walkSensitive(v, add)
		}
	}
}
