package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Rules are the compiled extraction paths of one OAuth config (seed 002):
// where the token response keeps each value. A nil path is skipped, except
// AccessToken, which falls back to $.access_token.
type Rules struct {
	AccessToken      *Path
	RefreshToken     *Path
	ExpiresIn        *Path // seconds, RFC 6749 §5.1
	ExpiresAt        *Path // unix seconds or an RFC 3339 time
	Scope            *Path // RFC 6749 §3.3
	TokenType        *Path // RFC 6749 §7.1
	IDToken          *Path // OpenID Connect Core §3.1.3.3
	Error            *Path // RFC 6749 §5.2 error
	ErrorDescription *Path // RFC 6749 §5.2 error_description

	// Success, when set, must hold for the answer to count as a success
	// (Slack: $.ok). Nil means no condition.
	Success *Path
	// Metadata maps a setting's name to the path of its value.
	Metadata map[string]*Path

	// ExpiresInUnit is the unit of ExpiresIn's value; zero means seconds
	// (RFC 6749 §5.1).
	ExpiresInUnit time.Duration
	// DefaultExpiresIn is the lifetime of a token whose answer gives none;
	// zero means unknown.
	DefaultExpiresIn time.Duration
}

// DefaultRules returns the paths of RFC 6749 §5.1 and §5.2 and OpenID Connect
// Core §3.1.3.3: $.access_token, $.refresh_token, $.expires_in, $.scope,
// $.token_type, $.id_token, $.error and $.error_description. ExpiresAt,
// Success and Metadata are unset.
func DefaultRules() Rules {
	return Rules{
		AccessToken:      defaultAccessToken,
		RefreshToken:     MustCompile("$.refresh_token"),
		ExpiresIn:        MustCompile("$.expires_in"),
		Scope:            MustCompile("$.scope"),
		TokenType:        MustCompile("$.token_type"),
		IDToken:          MustCompile("$.id_token"),
		Error:            MustCompile("$.error"),
		ErrorDescription: MustCompile("$.error_description"),
	}
}

var defaultAccessToken = MustCompile("$.access_token")

// Token is what Extract found in a successful token response (RFC 6749 §5.1).
type Token struct {
	AccessToken  string
	RefreshToken string // "" when the provider sent none (RFC 6749 §6 lets it keep the old one)
	TokenType    string
	Scope        string // space-separated (RFC 6749 §3.3), also when the provider sent a list
	IDToken      string

	// ExpiresIn is the lifetime the provider gave, or the time left until
	// ExpiresAt when it gave only that; 0 means unknown.
	ExpiresIn time.Duration
	// ExpiresAt is when the access token expires; the zero time means
	// unknown. Extract computes it from ExpiresIn when given a time.
	ExpiresAt time.Time

	// Metadata holds the value of each metadata path that matched, by
	// setting name.
	Metadata map[string]string
}

// maxSeconds caps a lifetime, as golang.org/x/oauth2 does (about 68 years).
const maxSeconds = math.MaxInt32

// maxDescription caps the provider's error description kept in an error.
const maxDescription = 1000

// Extract reads a parsed token response (ParseResponse) that came with HTTP
// status status. now, when not zero, is the time the answer came, used to
// turn expires_in into ExpiresAt.
//
// The answer is the provider's error (RFC 6749 §5.2) when the error path
// holds a value, when Success is set and does not hold, or when status is
// not 2xx (0 means unknown and is not checked), whatever else the answer
// holds: the result is a *latchkey.Error with code EPROVIDER whose Provider
// keeps the status and the provider's own error code, description and URI.
// An error object such as {"error": {"code": 190, "message": "…"}} gives its
// code and message; a missing description falls back to a top-level
// "message".
//
// A successful answer must hold a non-empty access token; expires_in may be
// a number or a numeric string, and expires_at unix seconds or an RFC 3339
// time. Any other problem is an EPROVIDER error that names the path and the
// keys present, never a value.
func (r *Rules) Extract(ctx context.Context, status int, doc map[string]any, now time.Time) (Token, error) {
	if doc == nil {
		doc = map[string]any{}
	}
	if err := r.providerError(ctx, status, doc); err != nil {
		return Token{}, err
	}

	var tok Token
	atPath := r.AccessToken
	if atPath == nil {
		atPath = defaultAccessToken
	}
	v, ok := atPath.value(ctx, doc)
	if !ok || format(v) == "" {
		return Token{}, missingToken(atPath, doc)
	}
	var err error
	if tok.AccessToken, err = scalar("access token", atPath, v); err != nil {
		return Token{}, err
	}
	for _, f := range []struct {
		name string
		path *Path
		dst  *string
	}{
		{"refresh token", r.RefreshToken, &tok.RefreshToken},
		{"token type", r.TokenType, &tok.TokenType},
		{"ID token", r.IDToken, &tok.IDToken},
	} {
		if f.path == nil {
			continue
		}
		if v, ok := f.path.value(ctx, doc); ok {
			if *f.dst, err = scalar(f.name, f.path, v); err != nil {
				return Token{}, err
			}
		}
	}
	if r.Scope != nil {
		if v, ok := r.Scope.value(ctx, doc); ok {
			tok.Scope = scope(v)
		}
	}

	if r.ExpiresIn != nil {
		if v, ok := r.ExpiresIn.value(ctx, doc); ok {
			secs, known, err := seconds(v)
			if err != nil {
				return Token{}, badField("expires_in", r.ExpiresIn, err.Error())
			}
			if known {
				unit := r.ExpiresInUnit
				if unit <= 0 {
					unit = time.Second
				}
				tok.ExpiresIn = time.Duration(secs * float64(unit))
			}
		}
	}
	if r.ExpiresAt != nil {
		if v, ok := r.ExpiresAt.value(ctx, doc); ok {
			at, err := instant(v)
			if err != nil {
				return Token{}, badField("expires_at", r.ExpiresAt, err.Error())
			}
			tok.ExpiresAt = at
		}
	}
	if tok.ExpiresIn == 0 && tok.ExpiresAt.IsZero() && r.DefaultExpiresIn > 0 {
		tok.ExpiresIn = r.DefaultExpiresIn
	}
	if !now.IsZero() {
		switch {
		case tok.ExpiresAt.IsZero() && tok.ExpiresIn > 0:
			tok.ExpiresAt = now.Add(tok.ExpiresIn)
		case !tok.ExpiresAt.IsZero() && tok.ExpiresIn == 0 && tok.ExpiresAt.After(now):
			tok.ExpiresIn = tok.ExpiresAt.Sub(now)
		}
	}

	if len(r.Metadata) > 0 {
		tok.Metadata = make(map[string]string, len(r.Metadata))
		for name, p := range r.Metadata {
			if p == nil {
				continue
			}
			if s, ok := p.Lookup(ctx, doc); ok {
				if err := Storable("metadata "+name, p, s); err != nil {
					return Token{}, err
				}
				tok.Metadata[name] = s
			}
		}
	}
	for _, f := range []struct {
		name  string
		path  *Path
		value string
	}{
		{"access token", atPath, tok.AccessToken},
		{"refresh token", r.RefreshToken, tok.RefreshToken},
		{"token type", r.TokenType, tok.TokenType},
		{"scope", r.Scope, tok.Scope},
		{"ID token", r.IDToken, tok.IDToken},
	} {
		if err := Storable(f.name, f.path, f.value); err != nil {
			return Token{}, err
		}
	}
	return tok, nil
}

// Storable checks that a value extracted at p can be stored and served: a
// NUL byte or invalid UTF-8 (which a JSON \u0000 or a form-encoded %00 or
// %FF can carry) is an EPROVIDER error that names the value and its path,
// never the value.
func Storable(name string, p *Path, s string) error {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return badField(name, p, "holds a NUL character, which cannot be stored")
	case !utf8.ValidString(s):
		return badField(name, p, "is not valid UTF-8, which cannot be stored")
	}
	return nil
}

// printable makes a provider's error text fit to store and show: invalid
// UTF-8 and control characters but tab and line feed become U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// providerError returns the provider's error when the answer is one, or nil.
func (r *Rules) providerError(ctx context.Context, status int, doc map[string]any) error {
	pe := &latchkey.ProviderError{Status: status}
	failed := status != 0 && (status < 200 || status > 299)
	var msg string
	if failed {
		msg = fmt.Sprintf("the provider answered HTTP %d", status)
	}
	if r.Error != nil {
		if v, ok := r.Error.value(ctx, doc); ok && isError(v) {
			failed = true
			msg = "the provider returned an error"
			if obj, isObj := v.(map[string]any); isObj {
				pe.Code = firstString(obj, "code", "error", "type", "status")
				pe.Description = firstString(obj, "message", "error_description", "description")
			} else {
				pe.Code = format(v)
			}
		}
	}
	if !failed && r.Success != nil && !r.Success.True(ctx, doc) {
		failed = true
		msg = "the provider's answer does not meet the success condition " + r.Success.String()
	}
	if !failed {
		return nil
	}
	if r.ErrorDescription != nil {
		if s, ok := r.ErrorDescription.Lookup(ctx, doc); ok && s != "" {
			pe.Description = s
		}
	}
	if pe.Description == "" {
		pe.Description = firstString(doc, "message")
	}
	pe.URI = firstString(doc, "error_uri")
	pe.Code = clip(printable(pe.Code), 200)
	pe.Description = clip(printable(pe.Description), maxDescription)
	pe.URI = clip(printable(pe.URI), maxDescription)
	return &latchkey.Error{Code: latchkey.EPROVIDER, Message: msg, Provider: pe}
}

// isError reports whether the value at the error path means an error. Some
// providers send "error": false, null, 0 or "" on success.
func isError(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.TrimSpace(x) != ""
	case float64:
		return x != 0
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return format(v) != "" && format(v) != "0"
}

// firstString returns the first of keys in obj that holds a string or a
// number, formatted.
func firstString(obj map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := obj[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64, json.Number, bool:
			return format(v)
		}
	}
	return ""
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// missingToken reports an answer without an access token, naming the path
// and the top-level keys, and where else an access_token key sits.
func missingToken(p *Path, doc map[string]any) error {
	msg := "the provider's answer holds no access token at " + p.String() + " (keys present: " + keyList(doc) + ")"
	if found := findKey(doc, "access_token", "$", 4); len(found) > 0 && !(len(found) == 1 && found[0] == p.String()) {
		msg += "; an access_token is at " + strings.Join(found, ", ")
	}
	return &latchkey.Error{Code: latchkey.EPROVIDER, Message: msg}
}

// keyList lists the top-level keys of doc, sorted, for an error message.
// Keys are the provider's names, not its values; a key that does not look
// like a name is counted, not shown.
func keyList(doc map[string]any) string {
	if len(doc) == 0 {
		return "none"
	}
	names := make([]string, 0, len(doc))
	others := 0
	for k := range doc {
		if isName(k) && len(names) < 30 {
			names = append(names, k)
		} else {
			others++
		}
	}
	sort.Strings(names)
	s := strings.Join(names, ", ")
	if others > 0 {
		if s != "" {
			s += " and "
		}
		s += strconv.Itoa(others) + " other"
		if others > 1 {
			s += "s"
		}
	}
	return s
}

// isName reports whether k looks like a field name: short, and made of
// letters, digits, '_', '-' and '.' only.
func isName(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// findKey returns the paths, up to depth levels down, of the keys named key.
func findKey(v any, key, at string, depth int) []string {
	if depth == 0 {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var found []string
	names := make([]string, 0, len(obj))
	for k := range obj {
		if isName(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if k == key {
			if s, ok := obj[k].(string); ok && s != "" {
				found = append(found, at+"."+k)
			}
			continue
		}
		found = append(found, findKey(obj[k], key, at+"."+k, depth-1)...)
	}
	if len(found) > 5 {
		found = found[:5]
	}
	return found
}

// scalar returns a token-like value as a string: a string or a number, not
// an object, a list or a bool.
func scalar(name string, p *Path, v any) (string, error) {
	switch v.(type) {
	case string, float64, json.Number:
		return format(v), nil
	case map[string]any:
		return "", badField(name, p, "is an object, not a single value")
	case []any:
		return "", badField(name, p, "is a list of several values, not a single value")
	}
	return "", badField(name, p, fmt.Sprintf("is a %T, not a string", v))
}

// scope returns a scope value as a space-separated string (RFC 6749 §3.3),
// joining a list.
func scope(v any) string {
	l, ok := v.([]any)
	if !ok {
		return format(v)
	}
	parts := make([]string, 0, len(l))
	for _, e := range l {
		if s := format(e); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

func badField(name string, p *Path, problem string) error {
	return &latchkey.Error{Code: latchkey.EPROVIDER,
		Message: fmt.Sprintf("the provider's %s at %s %s", name, p.String(), problem)}
}

// seconds reads a lifetime in seconds from a number or a numeric string.
// known is false for an empty string; a negative or non-numeric value is an
// error whose text holds no value.
func seconds(v any) (secs float64, known bool, err error) {
	var s string
	switch x := v.(type) {
	case float64:
		secs = x
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
		if s == "" {
			return 0, false, nil
		}
	default:
		return 0, false, fmt.Errorf("is not a number of seconds")
	}
	if s != "" {
		secs, err = strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return 0, false, fmt.Errorf("is not a number of seconds")
		}
	}
	switch {
	case math.IsNaN(secs):
		return 0, false, fmt.Errorf("is not a number of seconds")
	case secs < 0:
		return 0, false, fmt.Errorf("is negative")
	case secs > maxSeconds:
		secs = maxSeconds
	}
	return secs, secs > 0, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// instant reads an expiry time: unix seconds as a number or numeric string
// (a value past the year 5000 is taken as milliseconds), or an RFC 3339 time.
func instant(v any) (time.Time, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number, string:
		s := strings.TrimSpace(format(x))
		if s == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return time.Time{}, fmt.Errorf("is neither unix seconds nor an RFC 3339 time")
		}
	default:
		return time.Time{}, fmt.Errorf("is neither unix seconds nor an RFC 3339 time")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1e15 {
		return time.Time{}, fmt.Errorf("is not a plausible unix time")
	}
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
