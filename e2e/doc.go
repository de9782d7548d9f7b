// Package e2e holds end-to-end tests: they build the real grantd binary,
// start it on random loopback ports with its own data directory, and talk
// to it only through its public API over TLS.
package e2e
