package roles

import (
	"slices"
	"strings"
	"testing"
)

func kubeOps(r Role) []string {
	var out []string
	for _, p := range r.Permissions {
		if rest, ok := strings.CutPrefix(p.Operation, kubernetesPrefix); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestKubernetesOperation(t *testing.T) {
	for _, c := range []struct{ group, resource, sub, verb, want string }{
		{"", "pods", "", "get", "pods.get"},
		{"", "pods", "", "deletecollection", "pods.deletecollection"},
		{"", "pods", "exec", "create", "pods.exec"},
		{"", "pods", "exec", "get", "pods.exec"}, // WebSocket streaming
		{"", "pods", "attach", "create", "pods.attach"},
		{"", "pods", "portforward", "get", "pods.portforward"},
		{"", "pods", "ephemeralcontainers", "patch", "pods.exec"},
		{"", "pods", "ephemeralcontainers", "get", "pods.get"},
		{"", "pods", "log", "get", "pods.log"},
		{"", "pods", "eviction", "create", "pods.delete"},
		{"", "pods", "status", "patch", "pods.patch"},
		{"apps", "deployments", "scale", "patch", "deployments.scale"},
		{"apps", "deployments", "scale", "get", "deployments.get"},
		{"apps", "daemonsets", "scale", "update", "unlisted.any"},
		{"", "nodes", "proxy", "get", "unlisted.any"},
		{"", "serviceaccounts", "token", "create", "unlisted.any"},
		{"", "users", "", "impersonate", "users.impersonate"},
		{"", "serviceaccounts", "", "impersonate", "users.impersonate"},
		{"rbac.authorization.k8s.io", "clusterroles", "", "bind", "clusterroles.bind"},
		{"rbac.authorization.k8s.io", "rolebindings", "", "bind", "unlisted.any"},
		{"example.com", "pods", "", "get", "other.get"}, // a custom resource named like a core one
		{"example.com", "widgets", "", "watch", "other.watch"},
		{"example.com", "widgets", "", "approve", "unlisted.any"},
		{"apps", "deployments", "", "frobnicate", "unlisted.any"},
	} {
		got := KubernetesOperation(c.group, c.resource, c.sub, c.verb)
		if got != kubernetesPrefix+c.want {
			t.Errorf("%s/%s/%s %s = %s, want %s", c.group, c.resource, c.sub, c.verb, got, c.want)
		}
		if _, ok := Lookup(got); !ok {
			t.Errorf("%s is not in the catalog", got)
		}
	}
	if got := NonResourceOperation("get"); got != "kubernetes.nonresource.get" {
		t.Errorf("non-resource get = %s", got)
	}
	if got := NonResourceOperation("connect"); got != "kubernetes.unlisted.any" {
		t.Errorf("non-resource connect = %s", got)
	}
}

func TestKubernetesBuiltins(t *testing.T) {
	view, _ := Builtin(ViewOnly)
	rc, _ := Builtin(RestrictedControl)
	fc, _ := Builtin(FullControl)
	for _, r := range []Role{view, rc, fc} {
		if !r.AppliesTo(Kubernetes) {
			t.Errorf("%s does not apply to Kubernetes", r.ID)
		}
	}
	has := func(r Role, op string) bool { return slices.Contains(kubeOps(r), op) }
	for op, want := range map[string][3]bool{ // view, restricted, full
		"pods.get": {true, true, true}, "pods.list": {true, true, true}, "pods.log": {true, true, true},
		"secrets.get": {false, true, true}, "secrets.list": {false, true, true},
		"deployments.create": {false, true, true}, "deployments.scale": {false, true, true},
		"pods.exec": {false, false, true}, "pods.attach": {false, false, true}, "pods.portforward": {false, false, true},
		"nodes.get": {true, true, true}, "nodes.update": {false, false, true},
		"users.impersonate": {false, false, true}, "clusterroles.bind": {false, false, true},
		"unlisted.any": {false, false, true}, "nonresource.get": {true, true, true}, "nonresource.post": {false, true, true},
		"other.get": {true, true, true}, "other.create": {false, true, true},
	} {
		for i, r := range []Role{view, rc, fc} {
			if has(r, op) != want[i] {
				t.Errorf("%s holds %s: %v, want %v", r.ID, op, has(r, op), want[i])
			}
		}
	}
	if n := len(kubeOps(fc)); n != len(OperationsOf(Kubernetes)) {
		t.Errorf("fullcontrol holds %d of %d Kubernetes operations", n, len(OperationsOf(Kubernetes)))
	}
	sched, _ := Builtin(Scheduler)
	if sched.AppliesTo(Kubernetes) {
		t.Error("scheduler applies to Kubernetes")
	}
}
