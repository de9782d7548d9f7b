// Package engine translates the Docker Engine API into grantd's decisions,
// through two doors: the authorization plugin (docker.authz/1.0), which a
// daemon started with --authorization-plugin=grantd asks before every API
// call, and the engine API proxy, which client bundles point at and which
// forwards what it allows to the engines. Both decide each call the same
// way — method and path through a route table covering the whole Engine
// API, options from the request body, the collection from the access
// label or from the object's labels looked up through the engine API —
// and identify the caller by a client certificate. The proxy also writes
// the creator's default collection into unlabelled creates and filters
// lists and events. It decides nothing itself and never reads the store:
// its Backend does. It imports authz (the request type) and collections,
// nothing else of ours.
package engine
