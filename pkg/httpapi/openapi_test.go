package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi/openapitest"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// undocumented are the routes the OpenAPI document leaves out on purpose:
// the builder UI's files and the redirects to it.
var undocumented = map[string]bool{
	"GET /": true, "GET /ui": true, "GET /ui/{path}": true, "HEAD /ui/{path}": true,
}

// TestOpenAPIDocumentMatchesRoutes lists the router's routes and fails on
// any that the OpenAPI document does not describe, and on any operation
// the document describes that no route serves: the document cannot drift
// from the server.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	srv, err := New(Config{MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range srv.echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		served[r.Method+" "+documentPath(r.Path)] = true
	}
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range served {
		if !described[r] && !undocumented[r] {
			missing = append(missing, r)
		}
	}
	for r := range described {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, r := range missing {
		t.Errorf("served but not in pkg/httpapi/openapi/openapi.yaml: %s", r)
	}
	for _, r := range extra {
		t.Errorf("in pkg/httpapi/openapi/openapi.yaml but not served: %s", r)
	}
	if len(described) < 40 {
		t.Errorf("the document describes %d operations; it should describe every route", len(described))
	}
}

// documentPath writes an echo route's path as the document does: :name as
// {name}, a trailing * as {path}.
func documentPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		switch {
		case strings.HasPrefix(s, ":"):
			parts[i] = "{" + s[1:] + "}"
		case s == "*":
			parts[i] = "{path}"
		}
	}
	return strings.Join(parts, "/")
}

// TestOpenAPIEventTypesAreTheEngines: the document's EventType enum, which
// the UI's webhook screen is typed with, lists latchkey.EventTypes, in order.
func TestOpenAPIEventTypesAreTheEngines(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas["EventType"]
	if ref == nil || ref.Value == nil {
		t.Fatal("the document has no EventType schema")
	}
	var got []string
	for _, v := range ref.Value.Enum {
		got = append(got, fmt.Sprint(v))
	}
	var want []string
	for _, e := range latchkey.EventTypes {
		want = append(want, string(e))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("EventType enum: got %v, want latchkey.EventTypes %v", got, want)
	}
}
