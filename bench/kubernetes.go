package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/dataset"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// kubeSteps measures the Kubernetes authorization webhook as kube-apiserver
// calls it: one SubjectAccessReview per POST over HTTPS, with the API token
// of a service account holding the authorize capability. The dataset's
// teams each get Restricted Control in a namespace of their own first;
// every answer is compared with the model's (dataset.KubernetesQueries).
func kubeSteps(ctx context.Context, o options, p *process, in *installation, rep *report) error {
	grants := in.data.KubernetesGrants()
	o.log("granting %d teams a Kubernetes namespace each", len(grants))
	gs := v1.NewGrantServiceClient(p.conn)
	for _, g := range grants {
		if _, err := gs.CreateGrant(p.auth(ctx), &v1.CreateGrantRequest{Subject: g.Subject, Role: g.Role, Object: g.Object}); err != nil {
			return fmt.Errorf("kubernetes grant: %w", err)
		}
	}
	if _, err := v1.NewServiceAccountServiceClient(p.conn).CreateServiceAccount(p.auth(ctx),
		&v1.CreateServiceAccountRequest{Name: "kube-apiserver", Capabilities: []string{"authorize"}}); err != nil {
		return err
	}
	tok, err := v1.NewTokenServiceClient(p.conn).CreateAPIToken(p.auth(ctx),
		&v1.CreateAPITokenRequest{Name: "webhook", Owner: "serviceaccount:kube-apiserver"})
	if err != nil {
		return err
	}
	qs := in.data.KubernetesQueries(o.queries, 3)
	rep.kubeModel = loadgen.Result{System: "model", Interface: "Kubernetes", Answers: make([]int8, len(qs))}
	for i, q := range qs {
		if q.Allowed {
			rep.kubeModel.Answers[i] = 1
		}
	}
	// kube-apiserver asks the same questions again and again; like the
	// other server steps, the load runs after one pass has warmed the
	// decision cache.
	o.log("warming the decision cache: one pass over the Kubernetes questions")
	caller := kubeCaller(p, tok.GetSecret(), qs)
	if w := loadgen.Measure(ctx, "grantd", "warm-up", 16, 1, len(qs), time.Hour, caller, loadgen.OnePass()); w.Errors > 0 {
		return fmt.Errorf("warming up the Kubernetes questions: %s", w.FirstError)
	}
	for _, c := range o.callers {
		o.log("Kubernetes SubjectAccessReview webhook, %d callers", c)
		rep.server = append(rep.server, loadgen.Measure(ctx, "grantd", "Kubernetes webhook", c, 1, len(qs), o.duration, caller))
	}
	return nil
}

// kubeCaller posts one authorization.k8s.io/v1 SubjectAccessReview per call.
func kubeCaller(p *process, token string, qs []dataset.KubernetesQuery) loadgen.Caller {
	type attrs struct {
		Namespace   string `json:"namespace"`
		Verb        string `json:"verb"`
		Group       string `json:"group"`
		Version     string `json:"version"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource,omitempty"`
	}
	type spec struct {
		ResourceAttributes attrs    `json:"resourceAttributes"`
		User               string   `json:"user"`
		Groups             []string `json:"groups"`
	}
	type review struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       spec   `json:"spec"`
	}
	bodies := make([][]byte, len(qs))
	for i, q := range qs {
		bodies[i], _ = json.Marshal(review{"authorization.k8s.io/v1", "SubjectAccessReview", spec{
			attrs{q.Namespace, q.Verb, q.Group, "v1", q.Resource, q.Subresource}, q.User, []string{"system:authenticated"}}})
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		var out struct {
			Status struct {
				Allowed, Denied bool
				EvaluationError string
			}
		}
		if err := p.post(ctx, "/kubernetes/authorize", token, bodies[i], &out); err != nil {
			return err
		}
		if out.Status.EvaluationError != "" {
			return fmt.Errorf("webhook: %s", out.Status.EvaluationError)
		}
		allowed[0] = out.Status.Allowed
		return nil
	}
}
