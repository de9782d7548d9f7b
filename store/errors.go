package store

import "errors"

// Typed errors of the store. Every error a write returns wraps one of them,
// so callers map them with errors.Is and never parse messages.
var (
	// ErrNotFound: an object the write names or references does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the object to create exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the write conflicts with other state (a role in use, a
	// collection with children or grants).
	ErrConflict = errors.New("conflict")
	// ErrFailedPrecondition: the object may never be changed this way (a
	// built-in collection or role, the recovery admin).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrInvalid: the command itself is malformed.
	ErrInvalid = errors.New("invalid")
	// ErrNotReady: the store has no leader or is closed.
	ErrNotReady = errors.New("store not ready")
)
