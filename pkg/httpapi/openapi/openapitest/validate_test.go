package openapitest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi/openapitest"
)

// TestValidatorCatchesWhatDrifts: the validator passes an exchange the
// document describes and fails each one that strays from it.
func TestValidatorCatchesWhatDrifts(t *testing.T) {
	v, err := openapitest.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name               string
		method, path, body string
		status             int
		response           string
		wantErr            string
	}{
		{"a documented answer", "GET", "/api/v1/apps", "", 200, `{"apps":[{"name":"capacity"}]}`, ""},
		{"a field of the wrong type", "GET", "/api/v1/apps", "", 200, `{"apps":[{"name":7}]}`, "does not match"},
		{"a required field missing", "GET", "/api/v1/apps", "", 200, `{"applications":[]}`, "does not match"},
		{"an undocumented status", "GET", "/api/v1/apps", "", 418, `{"error":{"code":"x","message":"y"}}`, "status is not supported"},
		{"an error not of the error shape", "GET", "/api/v1/apps/capacity", "", 404, `{"message":"gone"}`, "does not match"},
		{"the error shape", "GET", "/api/v1/apps/capacity", "", 404, `{"error":{"code":"not_found","message":"no such app"}}`, ""},
		{"a route the document lacks, served", "GET", "/api/v1/secret", "", 200, `{}`, "no such path"},
		{"a route the document lacks, refused", "GET", "/api/v1/secret", "", 404, `{"error":{"code":"not_found","message":"no such route"}}`, ""},
		{"a method the document lacks, served", "PATCH", "/api/v1/apps", "", 200, `{}`, "has no PATCH"},
		{"a bad body, accepted", "POST", "/api/v1/apikeys", `{"scope":"root"}`, 201, `{"api_key":{"id":"k","scope":"admin","created_at":"2026-11-23T09:00:00Z"},"key":"x"}`, "the request does not match"},
		{"a bad body, refused", "POST", "/api/v1/apikeys", `{"scope":"root"}`, 422, `{"error":{"code":"invalid","message":"bad scope","details":[{"field":"scope","message":"is not a scope"}]}}`, ""},
		{"a proxy path with slashes", "GET", "/api/v1/apps/a/orgs/o/users/u/connections/c/proxy/v1/me/x", "", 200, `anything`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer k")
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			h := json.Clone()
			if strings.Contains(tc.path, "/proxy/") {
				h.Set("Content-Type", "text/plain")
			}
			err := v.Check(context.Background(), openapitest.Exchange{Request: req, RequestBody: []byte(tc.body),
				Status: tc.status, Header: h, ResponseBody: []byte(tc.response)})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want it to pass, got %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want an error with %q, got %v", tc.wantErr, err)
			}
		})
	}
}
