// Package store owns grantd's state: one go-memdb database whose schema is
// defined as code in schema.go, changed only by commands that are applied
// through hashicorp/raft, so every acknowledged write is durable (fsynced to
// the raft log) and replicable. The raft index of a write is its revision.
//
// Reads go through ReadTxn, a consistent snapshot that hands out copies.
// Writes go through Store.Apply with one of the command types of this
// package; each command re-checks its references inside the memdb
// transaction (what exists, what refers to what) and fails with a typed
// error (ErrNotFound, ErrAlreadyExists,
// ErrConflict, ErrInvalid, ErrFailedPrecondition) without changing anything.
// The syntax of names is checked where they enter (the API's request
// validation, the directory sync, the registry's push), not again here.
//
// It may import the pure domain packages (collections, roles, subjects) and
// nothing else of grantd's own.
package store
