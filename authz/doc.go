// Package authz decides. It compiles the state (grants, roles, memberships,
// the collection tree, repositories, admin and active flags) into a fixed
// Rego policy plus generated data, evaluates decisions with OPA prepared
// queries, explains them, answers the audit queries and exports bundles.
//
// It reads the store through a narrow read interface and never writes it.
// It may import store, policies and the domain packages (collections,
// roles, subjects); nothing imports it but server and adapters.
//
// The decision engine arrives with its own issue; until then the Authorize
// RPCs answer Unimplemented.
package authz
