// Package pki holds grantd's certificate authorities and keys: the
// server's TLS CA and serving certificate (files in the data directory),
// the client CA that signs client bundle certificates, and the registry
// token signing keys (both kept in the replicated state, so every node
// issues and checks the same). It issues and verifies; it does not decide
// who may ask for a certificate. It imports store, nothing else of ours.
package pki
