// Package ldapsync owns the LDAP / Active Directory integration: the
// directory configuration and its validation, login by search and bind,
// and sync runs that turn the directory into store commands.
//
// It may import store and the domain packages; server calls it.
//
// Built so far: configuration and its validation, server choice, and
// login by search and bind (Authenticate). Sync runs are not built yet.
package ldapsync
