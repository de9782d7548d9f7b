// Package subjects owns the names of accounts and the string forms of
// subjects ("user:alice", "team:acme/mobile") and grant objects
// ("collection:/x", "repository:ns/name", "namespace:ns"), with the naming
// rules that hold for every way a name enters grantd.
//
// It is a pure domain package: it imports nothing of grantd's own except
// collections, for the paths inside object strings.
package subjects
