// Package adapters translates foreign protocols — the Docker engine
// authorization plugin (adapters/engine) and the registry token service
// (adapters/registry) — into authz requests. Adapters decide nothing
// themselves and never read the store: they know only the authz request
// type and the domain packages, and ask a Backend the server implements.
package adapters
