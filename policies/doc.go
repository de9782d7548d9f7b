// Package policies owns the fixed Rego source of grantd's decisions,
// embedded into the binary, with its own Rego tests. It imports nothing of
// grantd's own; authz loads it.
//
// The policy arrives with the decision-engine issue.
package policies
