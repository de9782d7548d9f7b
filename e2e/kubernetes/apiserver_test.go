package kubernetes

import (
	"strings"
	"testing"
)

// pod is a pod manifest in JSON (which kubectl reads as YAML); spec holds
// the pod spec's fields beside its one container.
func pod(name, spec, securityContext string) string {
	c := `{"name":"app","image":"registry.invalid/app:1"`
	if securityContext != "" {
		c += `,"securityContext":` + securityContext
	}
	c += "}"
	if spec != "" {
		spec += ","
	}
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{` + spec + `"containers":[` + c + `]}}`
}

// TestKubeAPIServerEnforcesGrants drives a real kube-apiserver (on etcd,
// with grantd as its authorization webhook before RBAC, and as its
// validating admission webhook) with the real kubectl, as the users that
// grantd's grants name.
func TestKubeAPIServerEnforcesGrants(t *testing.T) {
	g := startGrantd(t)
	for _, u := range []string{"alice", "victor", "fiona", "nobody", "gina"} {
		g.user(u)
	}
	g.ok("orgs", "create", "acme")
	g.ok("teams", "create", "acme", "dev")
	g.ok("teams", "add-member", "acme", "dev", "alice")
	devGrant := g.grant("team:acme/dev", "restrictedcontrol", "namespace:team-a")
	g.grant("user:victor", "viewonly", "namespace:team-a")
	g.grant("user:fiona", "fullcontrol", "namespace:team-a")
	g.grant("k8s-serviceaccount:team-a/deployer", "restrictedcontrol", "namespace:team-a")
	// Team acme/ops is whoever kube-apiserver says is in group oidc:ops.
	g.ok("teams", "create", "acme", "ops")
	g.ok("teams", "update", "acme", "ops", "--kubernetes-group", "oidc:ops")
	g.grant("team:acme/ops", "viewonly", "namespace:team-b")

	c := startCluster(t, g, []tokenUser{{"alice", ""}, {"victor", ""}, {"fiona", ""}, {"nobody", ""},
		{"mallory", "oidc:ops"}, {"gina", "oidc:ops"}, {"system:kube-scheduler", ""},
		{"system:serviceaccount:team-a:deployer", "system:serviceaccounts,system:serviceaccounts:team-a"}})
	for _, ns := range []string{"team-a", "team-b"} {
		c.ok("cluster-admin", "create", "namespace", ns)
	}
	c.ok("cluster-admin", "-n", "team-a", "create", "secret", "generic", "db", "--from-literal=password=s3cret")
	inA := func(args ...string) []string { return append([]string{"-n", "team-a"}, args...) }
	apply := func(user, manifest string) (string, error) {
		return c.kubectlIn(user, manifest, "-n", "team-a", "apply", "-f", "-")
	}

	// Restricted Control (through the team): workloads yes, a way into
	// them or onto the node no.
	c.ok("alice", inA("create", "deployment", "web", "--image=registry.invalid/web:1")...)
	c.ok("alice", inA("scale", "deployment", "web", "--replicas=3")...)
	c.ok("alice", inA("get", "deployments", "web")...)
	if out, err := apply("alice", pod("plain", "", `{"allowPrivilegeEscalation":false}`)); err != nil {
		t.Fatalf("a plain pod: %v\n%s", err, out)
	}
	c.refused("alice", "", inA("exec", "plain", "--", "true"),
		"no grant gives user:alice kubernetes.pods.exec in Kubernetes namespace team-a")
	// kubectl port-forward and attach stop at a pod that is not running;
	// can-i asks the API server the same question.
	for _, sub := range []string{"portforward", "attach"} {
		if out, _ := c.kubectl("alice", inA("auth", "can-i", "create", "pods", "--subresource", sub)...); !strings.HasPrefix(out, "no - no grant gives user:alice kubernetes.pods."+sub) {
			t.Errorf("alice can-i %s: %q", sub, out)
		}
	}
	c.refused("alice", pod("priv", "", `{"privileged":true}`), inA("apply", "-f", "-"),
		"admission webhook", "denied the request", "needs container.create with privileged (privileged container app)")
	c.refused("alice", pod("hostnet", `"hostNetwork":true`, ""), inA("apply", "-f", "-"),
		"needs container.create with host_networking (hostNetwork)")
	c.refused("alice", pod("hostpath", `"volumes":[{"name":"root","hostPath":{"path":"/"}}]`, ""), inA("apply", "-f", "-"),
		"host_bind_mounts (hostPath volume root)")
	c.refused("alice", "", []string{"-n", "team-b", "get", "pods"}, "Kubernetes namespace team-b")
	// The same templates are checked when a workload is written.
	c.refused("alice", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"a":"b"}},`+
		`"template":{"metadata":{"labels":{"a":"b"}},"spec":{"hostPID":true,"containers":[{"name":"agent","image":"registry.invalid/agent:1"}]}}}}`,
		inA("apply", "-f", "-"), "daemonset team-a/agent needs container.create with pid_mode (hostPID)")

	// View Only: lists, but no secrets and no changes.
	c.ok("victor", inA("get", "pods")...)
	c.ok("victor", inA("get", "deployments")...)
	c.refused("victor", "", inA("get", "secrets"), "kubernetes.secrets.list")
	c.refused("victor", "", inA("get", "secret", "db"), "kubernetes.secrets.get")
	c.refused("victor", "", inA("delete", "pod", "plain"), "kubernetes.pods.delete")

	// Full Control: secrets, exec and node-affecting pods.
	if out := c.ok("fiona", inA("get", "secret", "db", "-o", "jsonpath={.data.password}")...); !strings.Contains(out, "czNjcmV0") {
		t.Errorf("fiona read the secret as %q", out)
	}
	if out, err := c.kubectl("fiona", inA("exec", "plain", "--", "true")...); err == nil || strings.Contains(out, "forbidden") {
		// The pod never runs (no scheduler, no kubelet): allowed means the
		// API server got past authorization to find no node.
		t.Errorf("fiona's exec: %v\n%s", err, out)
	}
	if out, err := apply("fiona", pod("priv", `"hostNetwork":true`, `{"privileged":true,"capabilities":{"add":["NET_ADMIN"]}}`)); err != nil {
		t.Errorf("fiona's privileged pod: %v\n%s", err, out)
	}

	// A Kubernetes group mapped to a team: gina is in no grantd team, but
	// kube-apiserver puts her in oidc:ops, which is acme/ops. A user
	// grantd does not know gains nothing from the same group.
	c.ok("gina", "-n", "team-b", "get", "pods")
	c.refused("gina", "", []string{"-n", "team-b", "get", "secrets"}, "no grant gives user:gina kubernetes.secrets.list")
	c.refused("gina", "", inA("get", "pods"), "no grant gives user:gina kubernetes.pods.list")
	c.refused("mallory", "", []string{"-n", "team-b", "get", "pods"}, "grantd has no opinion")

	// A grantd user without a grant is denied, with grantd's reason.
	c.refused("nobody", "", inA("get", "pods"), "no grant gives user:nobody kubernetes.pods.list")
	// A granted Kubernetes service account.
	c.ok("system:serviceaccount:team-a:deployer", inA("create", "deployment", "api", "--image=registry.invalid/api:1")...)
	c.refused("system:serviceaccount:team-a:deployer", "", inA("exec", "plain", "--", "true"), "k8s-serviceaccount:team-a/deployer")

	// Who grantd does not know falls through to RBAC: system components
	// keep working, strangers meet RBAC's refusal rather than grantd's.
	c.ok("system:kube-scheduler", "get", "pods", "--all-namespaces")
	c.ok("cluster-admin", "get", "pods", "--all-namespaces")
	out, err := c.kubectl("mallory", inA("get", "pods")...)
	if err == nil || !strings.Contains(out, "forbidden") || !strings.Contains(out, "grantd has no opinion") || strings.Contains(out, "no grant") {
		t.Errorf("mallory (unknown to grantd) got: %v\n%s", err, out)
	}
	// kubectl's discovery and can-i work for a user with no grant at all.
	if out, _ := c.kubectl("nobody", "auth", "can-i", "list", "pods", "-n", "team-a"); !strings.HasPrefix(out, "no - no grant gives user:nobody") {
		t.Errorf("can-i as nobody: %q", out)
	}
	if out, _ := c.kubectl("alice", "auth", "can-i", "create", "deployments", "-n", "team-a"); strings.TrimSpace(out) != "yes" {
		t.Errorf("can-i as alice: %q", out)
	}

	// A revoked grant counts from the next request.
	g.ok("grants", "delete", devGrant)
	c.refused("alice", "", inA("create", "deployment", "web2", "--image=registry.invalid/web:1"),
		"no grant gives user:alice kubernetes.deployments.create")
	c.refused("alice", "", inA("get", "pods"), "kubernetes.pods.list")
}
