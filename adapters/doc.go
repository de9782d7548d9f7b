// Package adapters translates foreign protocols — the Docker engine
// authorization plugin and the registry token service — into authz
// requests. Adapters decide nothing themselves and never read the store:
// they know only the authz request type.
//
// The adapters arrive with their own issues.
package adapters
