package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi/openapitest"
)

var (
	validatorOnce sync.Once
	validator     *openapitest.Validator
	validatorErr  error
)

// serveChecked serves req and fails the test when the request or the
// response does not match the OpenAPI document (openapitest.Validator.Check).
func serveChecked(tb testing.TB, srv http.Handler, req *http.Request, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	validatorOnce.Do(func() { validator, validatorErr = openapitest.NewValidator() })
	if validatorErr != nil {
		tb.Fatal(validatorErr)
	}
	sent := req.Clone(context.Background())
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	x := openapitest.Exchange{Request: sent, RequestBody: body, Status: rec.Code, Header: rec.Header(), ResponseBody: rec.Body.Bytes()}
	if err := validator.Check(context.Background(), x); err != nil {
		tb.Errorf("OpenAPI: %v", err)
	}
	return rec
}
