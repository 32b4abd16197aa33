// Package api holds the OpenAPI description of the Alice Runtime HTTP API
// (openapi.yaml), which the server serves at /openapi.json and the tests
// check its answers against.
package api

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var document string

// YAML returns the OpenAPI 3.1 document as written.
func YAML() []byte { return []byte(document) }

// JSON returns the document as JSON.
func JSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal([]byte(document), &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
}
