// Package registry is the Docker registry token service: it turns the
// token requests of a registry client (the CNCF distribution token
// authentication spec) into grantd decisions and signs the answer as a
// JWT the registry verifies. It knows nothing of storage: the server
// gives it a Backend.
package registry

import (
	"fmt"
	"strings"
)

// Registry actions and the grantd operations they need.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
	ActionAll    = "*"
)

// operationOf maps a registry action to the operation that allows it.
var operationOf = map[string]string{
	ActionPull:   "repository.pull",
	ActionPush:   "repository.push",
	ActionDelete: "repository.delete_tags",
}

// repositoryActions are the actions "*" stands for on a repository.
var repositoryActions = []string{ActionPull, ActionPush, ActionDelete}

// Scope is one requested scope: repository:<name>:<actions> or
// registry:catalog:*.
type Scope struct {
	Type    string
	Name    string
	Actions []string
}

func (s Scope) String() string { return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",") }

// ParseScope parses a scope from both ends: the type runs to the first
// colon, the actions from the last, and the name (which may hold a
// host:port) is what lies between. A resource class, as in
// repository(plugin), is dropped.
func ParseScope(s string) (Scope, error) {
	typ, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndex(rest, ":")
	if !ok || i <= 0 || typ == "" {
		return Scope{}, fmt.Errorf("scope %q: want type:name:actions", s)
	}
	if j := strings.IndexByte(typ, '('); j > 0 && strings.HasSuffix(typ, ")") {
		typ = typ[:j]
	}
	out := Scope{Type: typ, Name: rest[:i]}
	for _, a := range strings.Split(rest[i+1:], ",") {
		if a = strings.TrimSpace(a); a != "" {
			out.Actions = append(out.Actions, a)
		}
	}
	return out, nil
}

// splitRepository splits a repository name into its namespace and the
// rest; grantd repositories are <namespace>/<name>.
func splitRepository(name string) (namespace, rest string, ok bool) {
	namespace, rest, ok = strings.Cut(name, "/")
	return namespace, rest, ok && namespace != "" && rest != ""
}
