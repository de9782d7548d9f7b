package kubernetes

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// backend knows alice (user), bot (service account) and the Kubernetes
// service account team-a/deployer; it allows what allow says and records
// what it was asked.
type backend struct {
	asked []authz.Request
	allow func(authz.Request) authz.Decision
}

func (b *backend) Account(name string) (subjects.Subject, bool) {
	switch name {
	case "alice":
		return subjects.OfUser(name), true
	case "bot":
		return subjects.OfServiceAccount(name), true
	}
	return subjects.Subject{}, false
}

func (b *backend) Decide(_ context.Context, r authz.Request) authz.Decision {
	b.asked = append(b.asked, r)
	if r.Subject.Kind == subjects.KubernetesServiceAccount && r.Subject.Name != "team-a/deployer" {
		return authz.Decision{Code: authz.CodeUnknownSubject, Reason: "unknown"}
	}
	return b.allow(r)
}

func sar(version, user, attrs string) []byte {
	return []byte(`{"apiVersion":"authorization.k8s.io/` + version + `","kind":"SubjectAccessReview","spec":{"user":"` + user + `",` + attrs + `}}`)
}

func TestAuthorizeVerdicts(t *testing.T) {
	podsInA := `"resourceAttributes":{"namespace":"team-a","verb":"get","resource":"pods","version":"v1"}`
	execInA := `"resourceAttributes":{"namespace":"team-a","verb":"create","resource":"pods","subresource":"exec","version":"v1"}`
	grant := func(r authz.Request) authz.Decision {
		if r.Operation == "kubernetes.pods.get" && r.Namespace == "team-a" {
			return authz.Decision{Allowed: true, Code: authz.CodeGranted, Reason: "granted"}
		}
		return authz.Decision{Code: authz.CodeMissingOperation, Reason: "no grant gives it"}
	}
	for _, c := range []struct {
		name, version, user, attrs string
		want                       Verdict
		op                         string
	}{
		{"granted v1", "v1", "alice", podsInA, Allow, "kubernetes.pods.get"},
		{"granted v1beta1", "v1beta1", "alice", podsInA, Allow, "kubernetes.pods.get"},
		{"service account by name", "v1", "bot", podsInA, Allow, "kubernetes.pods.get"},
		{"not granted", "v1", "alice", execInA, Deny, "kubernetes.pods.exec"},
		{"unknown user", "v1", "mallory", podsInA, NoOpinion, ""},
		{"system component", "v1", "system:kube-scheduler", podsInA, NoOpinion, ""},
		{"known Kubernetes service account", "v1", "system:serviceaccount:team-a:deployer", podsInA, Allow, "kubernetes.pods.get"},
		{"unknown Kubernetes service account", "v1", "system:serviceaccount:kube-system:replicaset-controller", podsInA, NoOpinion, "kubernetes.pods.get"},
		{"malformed service account", "v1", "system:serviceaccount:Bad_NS:x", podsInA, NoOpinion, ""},
		{"discovery without a grant", "v1", "alice", `"nonResourceAttributes":{"path":"/apis","verb":"get"}`, NoOpinion, "kubernetes.nonresource.get"},
		{"can-i without a grant", "v1", "alice", `"resourceAttributes":{"verb":"create","group":"authorization.k8s.io","resource":"selfsubjectaccessreviews"}`, NoOpinion, "kubernetes.other.create"},
		{"neither attributes", "v1", "alice", `"uid":"1"`, Deny, ""},
	} {
		b := &backend{allow: grant}
		answer, v, _, err := Authorize(context.Background(), b, sar(c.version, c.user, c.attrs), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v != c.want {
			t.Errorf("%s: verdict %s, want %s", c.name, v, c.want)
		}
		if c.op != "" && (len(b.asked) != 1 || b.asked[0].Operation != c.op || !b.asked[0].Kubernetes) {
			t.Errorf("%s: asked %+v, want one Kubernetes question about %s", c.name, b.asked, c.op)
		}
		var rv accessReview
		if err := json.Unmarshal(answer, &rv); err != nil {
			t.Fatal(err)
		}
		if rv.APIVersion != "authorization.k8s.io/"+c.version || rv.Kind != "SubjectAccessReview" {
			t.Errorf("%s: answered as %s %s", c.name, rv.APIVersion, rv.Kind)
		}
		if rv.Status.Allowed != (c.want == Allow) || rv.Status.Denied != (c.want == Deny) || rv.Status.Reason == "" {
			t.Errorf("%s: status %+v for %s", c.name, rv.Status, c.want)
		}
	}
	// Groups reach the decision in either version's field.
	for version, field := range map[string]string{"v1": "groups", "v1beta1": "group"} {
		b := &backend{allow: grant}
		if _, _, _, err := Authorize(context.Background(), b, sar(version, "alice", podsInA+`,"`+field+`":["devs","system:authenticated"]`), nil); err != nil {
			t.Fatal(err)
		}
		if len(b.asked) != 1 || !slices.Equal(b.asked[0].Groups, []string{"devs", "system:authenticated"}) {
			t.Errorf("%s %s: asked %+v", version, field, b.asked)
		}
	}
	many := `,"groups":["g"` + strings.Repeat(`,"g"`, MaxGroups) + `]`
	if _, v, _, _ := Authorize(context.Background(), &backend{allow: grant}, sar("v1", "alice", podsInA+many), nil); v != Deny {
		t.Errorf("%d groups: %s", MaxGroups+1, v)
	}
	for _, bad := range []string{`{`, `{"apiVersion":"authorization.k8s.io/v2","kind":"SubjectAccessReview"}`,
		`{"apiVersion":"authorization.k8s.io/v1","kind":"TokenReview"}`} {
		if _, _, _, err := Authorize(context.Background(), &backend{}, []byte(bad), nil); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestAuthorizeFailsClosed(t *testing.T) {
	b := &backend{allow: func(authz.Request) authz.Decision {
		return authz.Decision{Code: authz.CodeInternalError, Reason: "denied: grantd could not decide"}
	}}
	answer, v, _, _ := Authorize(context.Background(), b, sar("v1", "alice", `"resourceAttributes":{"verb":"get","resource":"pods"}`), nil)
	if v != Deny || !strings.Contains(string(answer), `"evaluationError"`) {
		t.Errorf("an engine failure answered %s: %s", v, answer)
	}
}

func review(kind, group, user, object string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"` + group +
		`","version":"v1","kind":"` + kind + `"},"namespace":"team-a","operation":"CREATE","userInfo":{"username":"` + user + `"},"object":` + object + `}}`)
}

func TestAdmitAsksForTheOptionsAPodWants(t *testing.T) {
	spec := `{"hostNetwork":true,"hostPID":true,"hostIPC":true,"volumes":[{"name":"root","hostPath":{"path":"/"}},{"name":"tmp","emptyDir":{}}],` +
		`"initContainers":[{"name":"init","securityContext":{"allowPrivilegeEscalation":true}}],` +
		`"containers":[{"name":"app","securityContext":{"privileged":true,"capabilities":{"add":["NET_ADMIN"]}}},{"name":"plain","securityContext":{"allowPrivilegeEscalation":false,"privileged":false}}]}`
	all := []string{"host_bind_mounts", "host_networking", "ipc_mode", "kernel_capabilities", "pid_mode", "privileged"}
	for _, c := range []struct{ kind, group, object string }{
		{"Pod", "", `{"metadata":{"name":"p"},"spec":` + spec + `}`},
		{"Deployment", "apps", `{"metadata":{"name":"d"},"spec":{"template":{"spec":` + spec + `}}}`},
		{"StatefulSet", "apps", `{"spec":{"template":{"spec":` + spec + `}}}`},
		{"DaemonSet", "apps", `{"spec":{"template":{"spec":` + spec + `}}}`},
		{"ReplicaSet", "apps", `{"spec":{"template":{"spec":` + spec + `}}}`},
		{"Job", "batch", `{"spec":{"template":{"spec":` + spec + `}}}`},
		{"CronJob", "batch", `{"spec":{"jobTemplate":{"spec":{"template":{"spec":` + spec + `}}}}}`},
		{"PodTemplate", "", `{"template":{"spec":` + spec + `}}`},
	} {
		b := &backend{allow: func(r authz.Request) authz.Decision {
			return authz.Decision{Code: authz.CodeMissingOptions, Options: []string{"privileged"}, Reason: "holds it but not with privileged"}
		}}
		answer, _, err := Admit(context.Background(), b, review(c.kind, c.group, "alice", c.object))
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		if len(b.asked) != 1 || b.asked[0].Operation != "container.create" || !b.asked[0].Kubernetes ||
			b.asked[0].Namespace != "team-a" || !slices.Equal(b.asked[0].Options, all) {
			t.Fatalf("%s: asked %+v, want container.create in team-a with %v", c.kind, b.asked, all)
		}
		var rv admissionReview
		if err := json.Unmarshal(answer, &rv); err != nil {
			t.Fatal(err)
		}
		if rv.Response == nil || rv.Response.UID != "u-1" || rv.Response.Allowed || rv.Response.Status == nil ||
			!strings.Contains(rv.Response.Status.Message, "needs container.create with privileged (allowPrivilegeEscalation in container init; privileged container app): holds it") {
			t.Errorf("%s: answer %s", c.kind, answer)
		}
	}
}

func TestAdmitLetsThrough(t *testing.T) {
	plain := `{"spec":{"containers":[{"name":"app","securityContext":{"allowPrivilegeEscalation":false}}]}}`
	privileged := `{"spec":{"hostNetwork":true,"containers":[{"name":"app"}]}}`
	deny := func(authz.Request) authz.Decision {
		return authz.Decision{Code: authz.CodeMissingOperation, Reason: "no"}
	}
	for _, c := range []struct {
		name, kind, user, object string
		asks                     bool
	}{
		{"a plain pod", "Pod", "alice", plain, false},
		{"a user grantd does not know (a controller)", "Pod", "system:serviceaccount:kube-system:replicaset-controller", privileged, true},
		{"an unknown user", "Pod", "mallory", privileged, false},
		{"a kind without a pod spec", "ConfigMap", "alice", privileged, false},
	} {
		b := &backend{allow: deny}
		answer, _, err := Admit(context.Background(), b, review(c.kind, "", c.user, c.object))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(answer), `"allowed":true`) || (len(b.asked) > 0) != c.asks {
			t.Errorf("%s: %s (asked %v)", c.name, answer, b.asked)
		}
	}
	b := &backend{allow: deny}
	answer, _, _ := Admit(context.Background(), b, review("Pod", "", "alice", privileged))
	if !strings.Contains(string(answer), `"allowed":false`) || !strings.Contains(string(answer), "host_networking (hostNetwork)") {
		t.Errorf("a host-network pod without the grant: %s", answer)
	}
	if _, _, err := Admit(context.Background(), b, []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}`)); err == nil {
		t.Error("v1beta1 admission accepted")
	}
}
