package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi"
)

var (
	apiDocOnce sync.Once
	apiDoc     *openapi.Validator
	apiDocErr  error
)

// maxChecked is the largest body the check holds; a larger or streamed
// one passes unchecked (the proxy's memory tests send such bodies).
const maxChecked = 1 << 20

// checkedAgainstDocument wraps the server's handler so that every request
// it takes and every answer it gives, from any client of the test, is
// checked against the OpenAPI document (pkg/httpapi/openapi): a request
// the document describes must get a documented status and a body of its
// schema; one the document calls wrong (an unknown route or method, a bad
// parameter or body) must be refused with a documented 4xx.
func checkedAgainstDocument(tb testing.TB) func(http.Handler) http.Handler {
	apiDocOnce.Do(func() { apiDoc, apiDocErr = openapi.NewValidator() })
	if apiDocErr != nil {
		tb.Fatal(apiDocErr)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sent := r.Clone(context.Background())
			x := openapi.Exchange{Request: sent}
			if r.Body != nil && r.Body != http.NoBody {
				if r.ContentLength >= 0 && r.ContentLength <= maxChecked {
					b, err := io.ReadAll(r.Body)
					if err != nil {
						x.SkipRequestBody = true
					}
					x.RequestBody = b
					r.Body = io.NopCloser(bytes.NewReader(b))
				} else {
					x.SkipRequestBody = true
				}
			}
			rec := &recordingWriter{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			x.Status, x.Header = rec.status, rec.Header()
			if x.Status == 0 {
				x.Status = http.StatusOK
			}
			x.ResponseBody, x.SkipResponseBody = rec.body.Bytes(), rec.over
			if err := apiDoc.Check(context.Background(), x); err != nil {
				tb.Errorf("OpenAPI: %v", err)
			}
		})
	}
}

// recordingWriter passes a response through as it is written, keeping its
// status and up to maxChecked bytes of its body.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	over   bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.over {
		if w.body.Len()+len(p) > maxChecked {
			w.over = true
			w.body.Reset()
		} else {
			w.body.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets a streamed answer (the proxy's) stream through.
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
