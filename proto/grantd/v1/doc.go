// Package grantdv1 is grantd's API, generated from the .proto files beside
// it (messages, gRPC services, the REST gateway and the OpenAPI document).
// Do not edit the generated files: change the .proto files or http.yaml and
// run `make generate`; TestGeneratedCodeIsFresh fails when they drift.
package grantdv1

import _ "embed"

// OpenAPI is the OpenAPI v2 document of the REST API, served at /openapi.json.
//
//go:embed openapi.swagger.json
var OpenAPI []byte
