// Package policies owns the fixed Rego source of grantd's decisions,
// embedded into the binary, with its own Rego tests (*_test.rego, run by
// `opa test` and by TestRegoTests). It imports nothing of grantd's own;
// authz loads it.
package policies
