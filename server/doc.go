// Package server is grantd's transport: it serves the gRPC API and its REST
// gateway on one port, authenticates callers, checks who may call what,
// validates input, calls one domain function per RPC and maps errors to
// status codes. Decisions belong to authz and state to store; nothing in
// this package decides or persists on its own.
//
// It may import authz, store, the domain packages and the generated API.
package server
