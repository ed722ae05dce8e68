package latchkey

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Error codes, each mapped to one HTTP status by the HTTP API.
const (
	EINVALID      = "invalid"         // the input is malformed or breaks a rule (422)
	EBADREQUEST   = "bad_request"     // the request itself cannot be read (400)
	ENOTFOUND     = "not_found"       // no such resource, or not visible to the caller (404)
	ECONFLICT     = "conflict"        // the resource changed or exists already (409)
	EEXPIRED      = "expired"         // a link or state that was valid is no longer (410)
	EUNAUTHORIZED = "unauthorized"    // no or a wrong credential (401)
	EFORBIDDEN    = "forbidden"       // a valid credential without the right (403)
	EPROVIDER     = "provider_error"  // the OAuth provider refused or failed (502)
	ENEEDSREAUTH  = "needs_reauth"    // the connection must be authorized again (409)
	EREFRESHING   = "refresh_pending" // the token expired and refreshing it fails for now; retried later (424)
	ETHROTTLED    = "throttled"       // too many tries: wait as Retry-After says (429)
	EINTERNAL     = "internal"        // a fault of Latchkey itself (500)
)

// Error is the one error type of Latchkey's domain. Message is safe to show to
// the caller: it never holds a secret value. Err, when set, is the underlying
// cause; it is logged, never shown.
type Error struct {
	Code     string
	Message  string
	Fields   []FieldError
	Provider *ProviderError
	Err      error
}

// FieldError names a field of an input and what is wrong with it. Field is a
// dotted path into the document, such as "oauth_configs[0].token_url".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ProviderError is an OAuth provider's own account of a failure, kept as the
// provider said it: the RFC 6749 §5.2 error code, description and URI, or, for
// providers that do not follow it, whatever the configured paths extracted.
type ProviderError struct {
	// Status is the HTTP status of the provider's answer, or 0 when the error
	// came on the authorization callback (RFC 6749 §4.1.2.1).
	Status      int    `json:"status,omitempty"`
	Code        string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
	// RetryAfter is how long the provider asked to wait (HTTP Retry-After,
	// RFC 9110 §10.2.3), zero when it did not say.
	RetryAfter time.Duration `json:"-"`
}

// Error implements error.
func (e *ProviderError) Error() string {
	var b strings.Builder
	b.WriteString("provider error")
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Error implements error. The text is the code and the safe message; the
// cause is not included, so that printing an Error never leaks what it wraps.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Provider != nil {
		b.WriteString("; ")
		b.WriteString(e.Provider.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrNotFound) holds for any not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Err == nil
}

// Sentinel errors to test against with errors.Is; they match any *Error with
// their code.
var (
	ErrNotFound = &Error{Code: ENOTFOUND}
	ErrConflict = &Error{Code: ECONFLICT}
	ErrExpired  = &Error{Code: EEXPIRED}
	ErrInvalid  = &Error{Code: EINVALID}
)

// Errorf returns an *Error with code and a formatted message. The message must
// not hold a secret value.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message whose cause is err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of the first *Error in err's chain,
// and a generic text for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// FieldErrors collects field errors while validating.
type FieldErrors []FieldError

// Add records a field error.
func (fe *FieldErrors) Add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when no field error was recorded, or an EINVALID *Error
// listing them all, sorted by field.
func (fe FieldErrors) Err(message string) error {
	if len(fe) == 0 {
		return nil
	}
	out := append([]FieldError(nil), fe...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return &Error{Code: EINVALID, Message: message, Fields: out}
}
