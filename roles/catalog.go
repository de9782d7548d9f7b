package roles

import (
	"sort"
	"strings"
)

// ObjectKind is the kind of object an operation is granted on.
type ObjectKind string

// The object kinds: Swarm operations are granted on collections,
// repository operations on repositories and registry namespaces,
// Kubernetes operations on Kubernetes namespaces (kubernetes.go).
const (
	Swarm      ObjectKind = "swarm"
	Repository ObjectKind = "repository"
	Kubernetes ObjectKind = "kubernetes"
)

// Operation is one entry of the catalog.
type Operation struct {
	// ID is "<kind>.<verb>", for example "container.create".
	ID string
	// DisplayName is the human name used by tables, e.g. "Container Create".
	DisplayName string
	// Options are the sub-options a grant may allow for this operation.
	Options []string
	// Object is the kind of object the operation is granted on.
	Object ObjectKind
	// Reserved operations are held only through ownership (a user's own
	// namespace, an org admin's org namespace) or system admin rights; no
	// role may contain them.
	Reserved bool
}

// Kind returns the resource kind of the operation ("container").
func (o Operation) Kind() string { return o.ID[:strings.IndexByte(o.ID, '.')] }

// HasOption reports whether opt is one of the operation's options.
func (o Operation) HasOption(opt string) bool {
	for _, x := range o.Options {
		if x == opt {
			return true
		}
	}
	return false
}

var networkingOptions = []string{"credential_spec", "host_bind_mounts", "host_networking", "bridge_networking"}

// swarmOps is the Swarm part of the catalog in the order of operations.md:
// kind, then verb, with options in brackets.
var swarmOps = []struct {
	kind  string
	verbs []string
	opts  map[string][]string
}{
	{"config", []string{"create", "delete", "update", "use", "view"}, nil},
	{"container", []string{"attach", "changes", "connect", "create", "disconnect", "exec", "export",
		"fs_read", "fs_write", "kill", "logs", "pause", "remove", "rename", "resize", "restart",
		"start", "stats", "stop", "top", "unpause", "view", "wait"},
		map[string][]string{"create": {"ipc_mode", "pid_mode", "host_networking", "bridge_networking",
			"privileged", "host_bind_mounts", "kernel_capabilities", "userns_mode"}}},
	{"image", []string{"build", "commit", "create", "export", "history", "load", "prune", "push",
		"remove", "search", "tag", "view"}, map[string][]string{"remove": {"force"}}},
	{"network", []string{"connect", "create", "disconnect", "remove", "view"},
		map[string][]string{"create": {"attachable"}}},
	{"node", []string{"schedule", "update", "view"}, nil},
	{"secret", []string{"create", "delete", "update", "use", "view"}, nil},
	{"service", []string{"create", "delete", "logs", "update", "view", "view_tasks"},
		map[string][]string{"create": networkingOptions, "update": networkingOptions}},
	{"volume", []string{"create", "remove", "view"}, map[string][]string{"create": {"local_driver_options"}}},
}

var repositoryVerbs = []string{"view", "pull", "push", "scan", "delete_tags", "edit",
	"set_visibility", "manage_access", "delete", "create"}

var catalog, catalogByID = buildCatalog()

func buildCatalog() ([]Operation, map[string]Operation) {
	var ops []Operation
	for _, k := range swarmOps {
		for _, v := range k.verbs {
			ops = append(ops, Operation{ID: k.kind + "." + v, DisplayName: displayName(k.kind, v),
				Options: k.opts[v], Object: Swarm})
		}
	}
	for _, v := range repositoryVerbs {
		ops = append(ops, Operation{ID: "repository." + v, DisplayName: displayName("repository", v),
			Object: Repository, Reserved: v == "delete" || v == "create"})
	}
	ops = append(ops, kubernetesOperations()...)
	byID := make(map[string]Operation, len(ops))
	for _, o := range ops {
		byID[o.ID] = o
	}
	return ops, byID
}

// displayName turns ("container", "fs_read") into "Container FS Read".
func displayName(kind, verb string) string {
	words := append([]string{kind}, strings.Split(verb, "_")...)
	for i, w := range words {
		if w == "fs" {
			words[i] = "FS"
			continue
		}
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// Catalog returns every operation, in catalog order. The slice is a copy.
func Catalog() []Operation {
	out := make([]Operation, len(catalog))
	for i, o := range catalog {
		o.Options = append([]string(nil), o.Options...)
		out[i] = o
	}
	return out
}

// Lookup returns the operation with the given ID.
func Lookup(id string) (Operation, bool) {
	o, ok := catalogByID[id]
	return o, ok
}

// OperationsOf returns the IDs of every operation of one object kind, sorted.
func OperationsOf(kind ObjectKind) []string {
	var ids []string
	for _, o := range catalog {
		if o.Object == kind {
			ids = append(ids, o.ID)
		}
	}
	sort.Strings(ids)
	return ids
}
