package roles

import "strings"

// IDs of the built-in roles.
const (
	None              = "none"
	ViewOnly          = "viewonly"
	Scheduler         = "scheduler"
	RestrictedControl = "restrictedcontrol"
	FullControl       = "fullcontrol"
	RepoReadOnly      = "repo-read-only"
	RepoReadWrite     = "repo-read-write"
	RepoAdmin         = "repo-admin"
)

// viewOnlyExtras are the non-view operations View Only holds.
var viewOnlyExtras = map[string]bool{
	"container.changes": true, "container.logs": true, "container.stats": true, "container.top": true,
	"image.history": true, "service.logs": true, "service.view_tasks": true,
}

// restrictedOptions are the only options Restricted Control allows; every
// other option of its operations is withheld.
var restrictedOptions = map[string][]string{
	"container.create": {"bridge_networking"},
	"service.create":   {"bridge_networking"},
	"service.update":   {"bridge_networking"},
	"network.create":   {"attachable"},
	"image.remove":     {"force"},
}

// kubeViewOnly is View Only's part of Kubernetes: reading everything but
// secrets (and pod logs, like container.logs), and the non-resource paths.
func kubeViewOnly(resource, verb string) bool {
	switch {
	case resource == "secrets":
		return false
	case resource == "nonresource":
		return verb == "get"
	case resource == "pods" && verb == "log":
		return true
	}
	return verb == "get" || verb == "list" || verb == "watch"
}

// kubeRestricted is Restricted Control's part of Kubernetes: managing
// workloads, but no way into a running container (exec, attach,
// port-forward), no node changes, no RBAC bind or escalate, no
// impersonation and nothing the catalog does not list. Pods asking for
// node-affecting options are refused at admission by container.create's
// options, which Restricted Control withholds.
func kubeRestricted(resource, verb string) bool {
	switch {
	case resource == "pods" && (verb == "exec" || verb == "attach" || verb == "portforward"):
		return false
	case resource == "nodes":
		return verb == "get" || verb == "list" || verb == "watch"
	case verb == "bind" || verb == "escalate" || verb == "impersonate" || resource == "unlisted":
		return false
	}
	return true
}

var builtins = buildBuiltins()

func buildBuiltins() []Role {
	swarm := func(keep func(Operation) bool, opts func(Operation) []string) []Permission {
		var ps []Permission
		for _, o := range catalog {
			if o.Object == Swarm && keep(o) {
				ps = append(ps, Permission{Operation: o.ID, Options: opts(o)})
			}
		}
		return ps
	}
	kube := func(keep func(resource, verb string) bool) []Permission {
		var ps []Permission
		for _, o := range catalog {
			if o.Object != Kubernetes {
				continue
			}
			resource, verb, _ := strings.Cut(strings.TrimPrefix(o.ID, kubernetesPrefix), ".")
			if keep(resource, verb) {
				ps = append(ps, Permission{Operation: o.ID})
			}
		}
		return ps
	}
	noOpts := func(Operation) []string { return nil }
	repo := func(verbs ...string) []Permission {
		ps := make([]Permission, len(verbs))
		for i, v := range verbs {
			ps[i] = Permission{Operation: "repository." + v}
		}
		return ps
	}
	readOnly := []string{"view", "pull"}
	readWrite := append(readOnly[:2:2], "push", "scan", "delete_tags")
	admin := append(readWrite[:5:5], "edit", "set_visibility", "manage_access")
	rs := []Role{
		{ID: None, DisplayName: "None"},
		{ID: ViewOnly, DisplayName: "View Only", Permissions: append(swarm(func(o Operation) bool {
			return strings.HasSuffix(o.ID, ".view") || viewOnlyExtras[o.ID]
		}, noOpts), kube(kubeViewOnly)...)},
		{ID: Scheduler, DisplayName: "Scheduler", Permissions: []Permission{{Operation: "node.schedule"}, {Operation: "node.view"}}},
		{ID: RestrictedControl, DisplayName: "Restricted Control", Permissions: append(swarm(func(o Operation) bool {
			return o.ID != "container.exec" && o.ID != "node.update"
		}, func(o Operation) []string { return restrictedOptions[o.ID] }), kube(kubeRestricted)...)},
		{ID: FullControl, DisplayName: "Full Control", Permissions: append(swarm(func(Operation) bool { return true },
			func(o Operation) []string { return o.Options }), kube(func(string, string) bool { return true })...)},
		{ID: RepoReadOnly, DisplayName: "Read only", Permissions: repo(readOnly...)},
		{ID: RepoReadWrite, DisplayName: "Read & Write", Permissions: repo(readWrite...)},
		{ID: RepoAdmin, DisplayName: "Admin", Permissions: repo(admin...)},
	}
	for i := range rs {
		rs[i].Builtin = true
	}
	return rs
}

// Builtins returns deep copies of the built-in roles.
func Builtins() []Role {
	out := make([]Role, len(builtins))
	for i, r := range builtins {
		out[i] = r.Clone()
	}
	return out
}

// Builtin returns a copy of the built-in role with the given ID.
func Builtin(id string) (Role, bool) {
	for _, r := range builtins {
		if r.ID == id {
			return r.Clone(), true
		}
	}
	return Role{}, false
}
