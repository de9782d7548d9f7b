// Package subjects owns the names of accounts, subjects (users, teams,
// orgs, service accounts, every authenticated caller, the anonymous one)
// and grant objects (collections, repositories, registry namespaces), with
// the naming rules that hold for every way a name enters grantd.
//
// Inside grantd, subjects and objects are the typed Subject and Object;
// their strings ("user:alice", "team:acme/mobile", "collection:/x") exist
// only at the edges: the API's messages, the state's JSON (through
// MarshalText), the compiled policy data and the audit log. Input from
// outside is read with ParseSubject and ParseObject, which check the
// naming rules; what grantd wrote itself is read back with ParseStored and
// ParseStoredObject, which check only the shape.
//
// It is a pure domain package: it imports nothing of grantd's own except
// collections, for the paths inside objects.
package subjects
