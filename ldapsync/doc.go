// Package ldapsync owns the LDAP / Active Directory integration: the
// directory configuration and its validation, login by search and bind,
// and sync runs that turn the directory into store commands.
//
// It may import store and the domain packages; server calls it.
//
// The integration arrives with its own issue; until then the LDAP RPCs
// answer Unimplemented and login is local only.
package ldapsync
