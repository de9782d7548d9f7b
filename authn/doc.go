// Package authn turns credentials into principals: passwords (local, or
// bound against the directory, with just-in-time accounts), session and
// API tokens, and client certificates of grantd's client CA. Every way in
// ends in PrincipalOf, which finds the account and checks that it is
// active. Failures are typed errors (ErrUnauthenticated, ErrBadCredentials,
// ErrThrottled, ErrDirectoryUnavailable) that each transport maps to its
// own answer. It does not decide what a principal may do (rights, authz).
// It imports store, pki, ldapsync and subjects.
package authn
