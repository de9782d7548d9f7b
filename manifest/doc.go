// Package manifest is access as code: a declarative document of orgs,
// teams, memberships, collections, custom roles, grants, repositories and
// settings (and the users and service accounts they name); Export writes
// the current state as one, and Plan turns one into the store commands
// that make the state match it, applied together as one write.
//
// It imports the store (its read transaction and commands) and the pure
// domain packages, and nothing of the server's.
package manifest
