// Package engine is the Docker Engine authorization plugin
// (docker.authz/1.0): a daemon started with --authorization-plugin=grantd
// asks it before every API call. It translates each call — method and
// path through a route table covering the whole Engine API, options from
// the request body, the collection from the access label or from the
// object's labels looked up through the engine API — into authz requests,
// and identifies the caller by the client certificate the daemon verified.
// It decides nothing itself and never reads the store: its Backend does.
// It imports authz (the request type) and collections, nothing else of ours.
package engine
