// Package roles owns the operation catalog (every operation grantd decides
// on, with display names and options), the built-in roles, and the
// validation of custom roles.
//
// It is a pure domain package: it imports nothing of grantd's own.
package roles
