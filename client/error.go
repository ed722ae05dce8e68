package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Error codes of the API, as Error.Code carries them.
const (
	CodeInvalid          = latchkey.EINVALID      // the input breaks a rule (422); Fields names where
	CodeBadRequest       = latchkey.EBADREQUEST   // the request cannot be read (400)
	CodeNotFound         = latchkey.ENOTFOUND     // no such resource, or not visible to the key (404)
	CodeConflict         = latchkey.ECONFLICT     // the resource changed or exists already (409)
	CodeExpired          = latchkey.EEXPIRED      // a link that was valid is no longer (410)
	CodeUnauthorized     = latchkey.EUNAUTHORIZED // no or a wrong API key (401)
	CodeForbidden        = latchkey.EFORBIDDEN    // the key lacks the right (403)
	CodeProvider         = latchkey.EPROVIDER     // the OAuth provider refused or failed (502); Provider says how
	CodeNeedsReauth      = latchkey.ENEEDSREAUTH  // the user must connect again (409)
	CodeRefreshPending   = latchkey.EREFRESHING   // the token expired and refreshing fails for now (424)
	CodeThrottled        = latchkey.ETHROTTLED    // too many tries (429)
	CodeInternal         = latchkey.EINTERNAL     // a fault of Latchkey (500); RequestID finds it in the log
	CodeMethodNotAllowed = "method_not_allowed"   // the route takes another method (405)
	CodeTooLarge         = "too_large"            // the request body is over 1 MiB (413)
)

// FieldError names a field of the input and what is wrong with it, such as
// {"oauth_configs[0].token_url", "must be an absolute URL"}.
type FieldError = latchkey.FieldError

// ProviderError is an OAuth provider's own account of a failure: the
// RFC 6749 §5.2 error code, description and URI, and the HTTP status of
// its answer.
type ProviderError = latchkey.ProviderError

// Error is Latchkey's refusal of a request: the HTTP status and the body
// {"error": {"code", "message", "details", "provider", "request_id"}}. Test
// for it with errors.As.
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the API's error code (the Code* constants), or, for an
	// answer that was not Latchkey's JSON error, "http_" and the status.
	Code string
	// Message is the server's message, safe to show.
	Message string
	// Fields are the fields of the input the server refused, by path.
	Fields []FieldError
	// Provider is the provider's error, when a provider refused.
	Provider *ProviderError
	// RequestID identifies the request in the server's log.
	RequestID string
}

// Error implements error: "latchkey: not_found (404): no such app", then
// each field and the provider's error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "latchkey: %s (%d)", e.Code, e.Status)
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

// errorOf reads an error answer.
func errorOf(resp *http.Response, body []byte) *Error {
	var eb struct {
		Error struct {
			Code      string         `json:"code"`
			Message   string         `json:"message"`
			Details   []FieldError   `json:"details"`
			Provider  *ProviderError `json:"provider"`
			RequestID string         `json:"request_id"`
		} `json:"error"`
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message, e.Fields, e.Provider, e.RequestID = eb.Error.Code, eb.Error.Message, eb.Error.Details, eb.Error.Provider, eb.Error.RequestID
		return e
	}
	e.Code = fmt.Sprintf("http_%d", resp.StatusCode)
	e.Message = http.StatusText(resp.StatusCode)
	if c := resp.Header.Get(errorHeader); c != "" {
		e.Code = c
	}
	return e
}

// errorHeader, on an answer of a proxied or declared API call, marks
// Latchkey's own refusal, telling it from the provider's answer.
const errorHeader = "Latchkey-Error"

// Sentinel errors to test with errors.Is: each matches any *Error with its
// code, so errors.Is(err, client.ErrNotFound) holds for every 404 of the API.
var (
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrConflict    = &Error{Code: CodeConflict}
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrNeedsReauth = &Error{Code: CodeNeedsReauth}
)

// Is reports whether target is a sentinel *Error (one with only a code)
// with e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == 0 && t.Message == "" && t.Code == e.Code
}
