package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	authorizationcel "k8s.io/apiserver/pkg/authorization/cel"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	"k8s.io/client-go/tools/clientcmd"
)

// TestWebhookAuthorizerClient is the fast layer: kube-apiserver's own
// webhook authorizer (k8s.io/apiserver), configured with the kubeconfig
// grantctl prints, asks a real grantd in both API versions.
func TestWebhookAuthorizerClient(t *testing.T) {
	g := startGrantd(t)
	g.user("alice")
	g.user("nobody")
	g.ok("orgs", "create", "acme")
	g.ok("teams", "create", "acme", "dev")
	g.ok("teams", "add-member", "acme", "dev", "alice")
	g.grant("team:acme/dev", "restrictedcontrol", "namespace:team-a")
	g.grant("k8s-serviceaccount:team-a/deployer", "viewonly", "namespace:team-a")
	kubeconfig, _, _ := g.webhookFiles(t.TempDir())
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	attrs := func(name, verb, namespace, resource, subresource string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: &user.DefaultInfo{Name: name, Groups: []string{"system:authenticated"}},
			Verb: verb, Namespace: namespace, Resource: resource, Subresource: subresource, APIGroup: "", APIVersion: "v1",
			ResourceRequest: true}
	}
	cases := []struct {
		name   string
		attrs  authorizer.AttributesRecord
		want   authorizer.Decision
		reason string
	}{
		{"a team's Restricted Control lists pods", attrs("alice", "list", "team-a", "pods", ""), authorizer.DecisionAllow, "holds kubernetes.pods.list"},
		{"but does not exec", attrs("alice", "create", "team-a", "pods", "exec"), authorizer.DecisionDeny,
			"no grant gives user:alice kubernetes.pods.exec in Kubernetes namespace team-a"},
		{"nor acts in another namespace", attrs("alice", "list", "team-b", "pods", ""), authorizer.DecisionDeny, "team-b"},
		{"nor at the cluster scope", attrs("alice", "list", "", "nodes", ""), authorizer.DecisionDeny, "cluster scope"},
		{"a known user without a grant", attrs("nobody", "get", "team-a", "pods", ""), authorizer.DecisionDeny, "no grant gives user:nobody"},
		{"a user grantd does not know", attrs("mallory", "get", "team-a", "pods", ""), authorizer.DecisionNoOpinion, "no opinion"},
		{"a system component", attrs("system:kube-controller-manager", "list", "", "pods", ""), authorizer.DecisionNoOpinion, "no opinion"},
		{"a granted Kubernetes service account", attrs("system:serviceaccount:team-a:deployer", "get", "team-a", "deployments", ""),
			authorizer.DecisionAllow, "k8s-serviceaccount:team-a/deployer"},
		{"View Only does not read secrets", attrs("system:serviceaccount:team-a:deployer", "get", "team-a", "secrets", ""),
			authorizer.DecisionDeny, "kubernetes.secrets.get"},
		{"an ungranted Kubernetes service account", attrs("system:serviceaccount:team-b:deployer", "get", "team-b", "pods", ""),
			authorizer.DecisionNoOpinion, "no opinion"},
	}
	for _, version := range []string{"v1", "v1beta1"} {
		a, err := webhook.New(config, version, 0, 0, wait.Backoff{Duration: 100 * time.Millisecond, Steps: 1},
			authorizer.DecisionDeny, nil, "grantd", metrics.NoopAuthorizerMetrics{}, authorizationcel.NewDefaultCompiler())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			d, reason, err := a.Authorize(context.Background(), c.attrs)
			if err != nil {
				t.Errorf("%s %s: %v", version, c.name, err)
				continue
			}
			if d != c.want || !strings.Contains(reason, c.reason) {
				t.Errorf("%s %s: decision %v %q, want %v with %q", version, c.name, d, reason, c.want, c.reason)
			}
		}
	}
	// Non-resource requests: discovery falls through without a grant.
	a, err := webhook.New(config, "v1", 0, 0, wait.Backoff{Steps: 1}, authorizer.DecisionDeny, nil, "grantd",
		metrics.NoopAuthorizerMetrics{}, authorizationcel.NewDefaultCompiler())
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := a.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "nobody"}, Verb: "get", Path: "/apis"})
	if err != nil || d != authorizer.DecisionNoOpinion {
		t.Errorf("discovery without a grant: %v %v, want no opinion", d, err)
	}
}
