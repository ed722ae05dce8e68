package openapitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
)

// MaxChecked is the largest body Handler holds to check; a larger or
// streamed one passes through unchecked (the proxy's memory tests send
// such bodies).
const MaxChecked = 1 << 20

var (
	shared     *Validator
	sharedErr  error
	sharedOnce sync.Once
)

// Handler wraps a server under test so that every request it takes and
// every answer it gives, from any client of the test, is checked against
// the document (Validator.Check); a mismatch fails tb. Bodies pass through
// as they are written: streaming still streams.
func Handler(tb testing.TB, next http.Handler) http.Handler {
	sharedOnce.Do(func() { shared, sharedErr = NewValidator() })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := Exchange{Request: r.Clone(context.Background())}
		if r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength >= 0 && r.ContentLength <= MaxChecked {
				b, err := io.ReadAll(r.Body)
				x.RequestBody, x.SkipRequestBody = b, err != nil
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
		if err := shared.Check(context.Background(), x); err != nil {
			tb.Errorf("OpenAPI: %v", err)
		}
	})
}

// recordingWriter passes a response through as it is written, keeping its
// status and up to MaxChecked bytes of its body.
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
		if w.body.Len()+len(p) > MaxChecked {
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
