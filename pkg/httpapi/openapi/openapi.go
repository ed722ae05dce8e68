// Package openapi holds the OpenAPI 3.1 document of Latchkey's HTTP API,
// written by hand in openapi.yaml and embedded.
//
// The document is the contract: a test lists the router's routes and fails
// on any route it lacks or describes but the server does not serve, and the
// API tests check every request and response against it (openapitest).
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var source []byte

// YAML returns the document as written.
func YAML() []byte { return source }

var (
	jsonOnce sync.Once
	jsonDoc  []byte
	jsonErr  error
)

// JSON returns the document as JSON, its YAML anchors and merge keys
// expanded, as GET /api/v1/openapi.json serves it.
func JSON() ([]byte, error) {
	jsonOnce.Do(func() {
		var v any
		if jsonErr = yaml.Unmarshal(source, &v); jsonErr != nil {
			jsonErr = fmt.Errorf("openapi: the document is not YAML: %w", jsonErr)
			return
		}
		jsonDoc, jsonErr = json.MarshalIndent(v, "", "  ")
		if jsonErr != nil {
			jsonErr = fmt.Errorf("openapi: the document cannot be written as JSON: %w", jsonErr)
		}
	})
	return jsonDoc, jsonErr
}
