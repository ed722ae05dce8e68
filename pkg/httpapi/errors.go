package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

var statusOf = map[string]int{
	latchkey.EINVALID:      http.StatusUnprocessableEntity,
	latchkey.EBADREQUEST:   http.StatusBadRequest,
	latchkey.ENOTFOUND:     http.StatusNotFound,
	latchkey.ECONFLICT:     http.StatusConflict,
	latchkey.EEXPIRED:      http.StatusGone,
	latchkey.EUNAUTHORIZED: http.StatusUnauthorized,
	latchkey.EFORBIDDEN:    http.StatusForbidden,
	latchkey.EPROVIDER:     http.StatusBadGateway,
	latchkey.ENEEDSREAUTH:  http.StatusConflict,
	latchkey.EREFRESHING:   http.StatusFailedDependency,
	latchkey.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string                  `json:"code"`
	Message   string                  `json:"message"`
	Details   []latchkey.FieldError   `json:"details,omitempty"`
	Provider  *latchkey.ProviderError `json:"provider,omitempty"`
	RequestID string                  `json:"request_id,omitempty"`
}

// handleError is the one place errors become responses: a JSON error on
// the API, an error page on the end-user routes. Internal errors are logged
// with the request id and shown without detail.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	le := toDomainError(err)
	status := statusOf[le.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	if status >= 500 && le.Code != latchkey.EPROVIDER && !outwardCodes[le.Code] {
		s.logger.ErrorContext(c.Request().Context(), "internal error", "request_id", reqID, "route", c.Path(), "error", err)
		le = &latchkey.Error{Code: latchkey.EINTERNAL, Message: "internal error; the request id identifies it in the server's log"}
	} else if le.Err != nil {
		s.logger.InfoContext(c.Request().Context(), "request refused", "request_id", reqID, "route", c.Path(),
			"code", le.Code, "message", le.Message)
	}
	if !strings.HasPrefix(c.Request().URL.Path, "/api/") && c.Request().URL.Path != "/healthz" {
		s.renderResult(c, status, resultPage{Title: titleOf(le), Message: le.Message, RequestID: reqID}.withProvider(le.Provider))
		return
	}
	c.Response().Header().Set("Latchkey-Error", le.Code) // tells Latchkey's refusal from a proxied provider's answer
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, errorBody{Error: errorDetail{Code: le.Code, Message: le.Message, Details: le.Fields, Provider: le.Provider, RequestID: reqID}})
}

// toDomainError turns any error into a *latchkey.Error; echo's own errors
// (unknown route, wrong method, body too large) keep their status.
func toDomainError(err error) *latchkey.Error {
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
		// A body without a Content-Length is cut off as it is read, inside
		// a handler that may have wrapped the error.
		return tooLarge()
	}
	var le *latchkey.Error
	if errors.As(err, &le) {
		return le
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		code := latchkey.EBADREQUEST
		switch he.Code {
		case http.StatusNotFound:
			code = latchkey.ENOTFOUND
			msg = "no such route"
		case http.StatusMethodNotAllowed:
			return &latchkey.Error{Code: "method_not_allowed", Message: "method not allowed on this route"}
		case http.StatusRequestEntityTooLarge:
			return tooLarge()
		case http.StatusUnauthorized:
			code = latchkey.EUNAUTHORIZED
		}
		if he.Code >= 500 {
			code = latchkey.EINTERNAL
		}
		return &latchkey.Error{Code: code, Message: strings.ToLower(msg[:1]) + msg[1:]}
	}
	return &latchkey.Error{Code: latchkey.EINTERNAL, Message: "internal error", Err: err}
}

// MaxBodySize is the largest request body accepted, in bytes: 1 MiB, the
// size of the largest app document (latchkey.MaxDocumentSize).
const MaxBodySize = latchkey.MaxDocumentSize

func tooLarge() *latchkey.Error {
	return &latchkey.Error{Code: "too_large", Message: fmt.Sprintf("the request body is larger than 1 MiB (%d bytes)", MaxBodySize)}
}

// outwardCodes are the 5xx codes whose message is shown as is: they tell
// the caller about the upstream (a timeout, a refused address), not about a
// fault inside Latchkey.
var outwardCodes = map[string]bool{}

func init() {
	statusOf["method_not_allowed"] = http.StatusMethodNotAllowed
	statusOf["too_large"] = http.StatusRequestEntityTooLarge
}

func titleOf(le *latchkey.Error) string {
	switch le.Code {
	case latchkey.EPROVIDER:
		return "The provider did not grant access"
	case latchkey.EEXPIRED:
		return "This link has expired"
	case latchkey.ENOTFOUND, latchkey.EBADREQUEST:
		return "This link cannot be used"
	case latchkey.EINVALID:
		return "The connection is not set up correctly"
	}
	return "Something went wrong"
}

var _ = slog.LevelInfo
