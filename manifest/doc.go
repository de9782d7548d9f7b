// Package manifest is the format of access as code: a declarative
// document of orgs, teams, memberships, collections, custom roles,
// grants, repositories and settings (and the users and service accounts
// they name), its validation and its JSON Schema, and the answer to
// applying one. It imports only the pure domain packages, so that
// grantctl reads and checks manifests without the store; package
// reconcile compares one with the state.
package manifest
