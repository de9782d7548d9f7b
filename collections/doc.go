// Package collections owns collection paths: parsing, validation,
// normalization, the ancestor chain, the built-in collections and the rules
// for resolving a resource's access label into a collection.
//
// It is a pure domain package: it imports nothing of grantd's own.
package collections
