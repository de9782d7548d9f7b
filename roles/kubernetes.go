package roles

import "strings"

// Kubernetes operations are granted on namespace objects (one namespace,
// or "namespace:*" for all of them and the cluster-scoped resources). Their
// IDs are "kubernetes.<resource>.<verb>", where the resource is the plural
// name kube-apiserver uses ("pods", "deployments") and the verb one of the
// API's verbs or a subresource action (docs/kubernetes.md has the table).
const kubernetesPrefix = "kubernetes."

// KubernetesVerbs are the API verbs every resource of the catalog has.
var KubernetesVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// KubernetesResources are the resources of the catalog, by API group ("" is
// the core group). A resource outside this table (a custom resource, a
// group added later) is "other"; its operations are kubernetes.other.<verb>.
var KubernetesResources = map[string][]string{
	"": {"pods", "services", "endpoints", "configmaps", "secrets", "persistentvolumeclaims",
		"serviceaccounts", "events", "replicationcontrollers", "limitranges", "resourcequotas",
		"podtemplates", "namespaces", "nodes", "persistentvolumes"},
	"apps":                         {"deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions"},
	"batch":                        {"jobs", "cronjobs"},
	"autoscaling":                  {"horizontalpodautoscalers"},
	"policy":                       {"poddisruptionbudgets"},
	"networking.k8s.io":            {"ingresses", "networkpolicies"},
	"discovery.k8s.io":             {"endpointslices"},
	"events.k8s.io":                {"events"},
	"coordination.k8s.io":          {"leases"},
	"storage.k8s.io":               {"storageclasses"},
	"rbac.authorization.k8s.io":    {"roles", "rolebindings", "clusterroles", "clusterrolebindings"},
	"apiextensions.k8s.io":         {"customresourcedefinitions"},
	"admissionregistration.k8s.io": {"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
}

// kubernetesExtras are the operations beyond resource × verb: subresource
// actions, RBAC's bind and escalate, impersonation, non-resource paths, and
// the catch-all for whatever the catalog does not list.
var kubernetesExtras = []string{
	"pods.exec", "pods.attach", "pods.portforward", "pods.log",
	"deployments.scale", "statefulsets.scale", "replicasets.scale", "replicationcontrollers.scale",
	"roles.bind", "roles.escalate", "clusterroles.bind", "clusterroles.escalate",
	"users.impersonate",
	"nonresource.get", "nonresource.post", "nonresource.put", "nonresource.patch", "nonresource.delete",
	"unlisted.any",
}

func kubernetesOperations() []Operation {
	var resources []string
	seen := map[string]bool{}
	for _, g := range []string{"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "discovery.k8s.io",
		"events.k8s.io", "coordination.k8s.io", "storage.k8s.io", "rbac.authorization.k8s.io",
		"apiextensions.k8s.io", "admissionregistration.k8s.io"} {
		for _, r := range KubernetesResources[g] {
			if !seen[r] {
				seen[r] = true
				resources = append(resources, r)
			}
		}
	}
	resources = append(resources, "other")
	var ops []Operation
	add := func(rest string) {
		id := kubernetesPrefix + rest
		ops = append(ops, Operation{ID: id, DisplayName: kubernetesDisplayName(rest), Object: Kubernetes})
	}
	for _, r := range resources {
		for _, v := range KubernetesVerbs {
			add(r + "." + v)
		}
	}
	for _, x := range kubernetesExtras {
		add(x)
	}
	return ops
}

// kubernetesDisplayName turns "pods.exec" into "Kubernetes Pods Exec".
func kubernetesDisplayName(rest string) string {
	words := []string{"Kubernetes"}
	for _, w := range strings.FieldsFunc(rest, func(r rune) bool { return r == '.' }) {
		words = append(words, strings.ToUpper(w[:1])+w[1:])
	}
	return strings.Join(words, " ")
}

// KubernetesOperation is the operation ID of a resource request: the
// resource's category (its own name when the catalog lists it for its
// group, "other" when not), with the verb or the subresource's action.
// Requests the catalog has no operation for map to kubernetes.unlisted.any,
// which only Full Control holds.
func KubernetesOperation(group, resource, subresource, verb string) string {
	category := "other"
	for _, r := range KubernetesResources[group] {
		if r == resource {
			category = r
			break
		}
	}
	if verb == "impersonate" {
		return kubernetesPrefix + "users.impersonate"
	}
	if category != "other" && (verb == "bind" || verb == "escalate") {
		if id := kubernetesPrefix + category + "." + verb; isCatalogued(id) {
			return id
		}
	}
	switch {
	case subresource == "":
	case category == "pods" && (subresource == "exec" || subresource == "attach" || subresource == "portforward"):
		// Any verb: kubectl streams with create (SPDY) or get (WebSocket).
		return kubernetesPrefix + "pods." + subresource
	case category == "pods" && subresource == "ephemeralcontainers" && verb != "get":
		// Adding a debug container to a running pod is as strong as exec.
		return kubernetesPrefix + "pods.exec"
	case category == "pods" && subresource == "log" && verb == "get":
		return kubernetesPrefix + "pods.log"
	case category == "pods" && subresource == "eviction" && verb == "create":
		return kubernetesPrefix + "pods.delete"
	case subresource == "scale" && (verb == "update" || verb == "patch"):
		if id := kubernetesPrefix + category + ".scale"; isCatalogued(id) {
			return id
		}
		return kubernetesPrefix + "unlisted.any"
	case (subresource == "scale" || subresource == "status" || subresource == "ephemeralcontainers") && verb == "get",
		subresource == "status" && (verb == "update" || verb == "patch"):
		// Reading these subresources is reading the object; writing status
		// is updating it.
	default:
		return kubernetesPrefix + "unlisted.any"
	}
	if id := kubernetesPrefix + category + "." + verb; isCatalogued(id) {
		return id
	}
	return kubernetesPrefix + "unlisted.any"
}

// NonResourceOperation is the operation ID of a non-resource request
// (/healthz, /version, /metrics …) by its lower-case HTTP verb.
func NonResourceOperation(verb string) string {
	if id := kubernetesPrefix + "nonresource." + verb; isCatalogued(id) {
		return id
	}
	return kubernetesPrefix + "unlisted.any"
}

func isCatalogued(id string) bool { _, ok := catalogByID[id]; return ok }
