// Package authzen speaks the OpenID AuthZEN Authorization API 1.0: it
// turns Access Evaluation requests into grantd's decision requests and
// the decisions into AuthZEN answers (docs/authzen.md has the mapping).
//
//	subject  {type: "user" | "service_account" | "kubernetes_service_account", id}
//	resource {type: "collection", id: "/path"} | {type: "repository", id: "ns/name"}
//	         | {type: "kubernetes_namespace", id: "ns" ("*": the cluster scope)}
//	         | {type: "labels", properties: {labels: {...}}} (a Swarm object's labels)
//	action   {name: "<operation>"}   (container.create, repository.pull, kubernetes.pods.get …)
//	context  {options: [...], secrets: [...], labels: {...}}
package authzen

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// Subject, Resource and Action are AuthZEN's entities.
type Subject struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

type Resource struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

type Action struct {
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Context carries what grantd reads beside the entities.
type Context struct {
	Options []string          `json:"options,omitempty"`
	Secrets []string          `json:"secrets,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Evaluation is one access evaluation request.
type Evaluation struct {
	Subject  *Subject  `json:"subject,omitempty"`
	Resource *Resource `json:"resource,omitempty"`
	Action   *Action   `json:"action,omitempty"`
	Context  *Context  `json:"context,omitempty"`
}

// Evaluations is the batch request: defaults at the top, one evaluation
// per item, and the semantics of the batch.
type Evaluations struct {
	Evaluation
	Evaluations []Evaluation `json:"evaluations"`
	Options     struct {
		Semantic string `json:"evaluations_semantic,omitempty"`
	} `json:"options"`
}

// Answer is an evaluation's answer: the decision, and why in its context.
type Answer struct {
	Decision bool          `json:"decision"`
	Context  AnswerContext `json:"context"`
}

// AnswerContext explains a decision: grantd's reason, and the revision of
// the state it was decided at.
type AnswerContext struct {
	Reason   map[string]string `json:"reason_admin,omitempty"`
	Revision uint64            `json:"revision,omitempty"`
}

// The batch semantics AuthZEN defines.
const (
	ExecuteAll          = "execute_all"
	DenyOnFirstDeny     = "deny_on_first_deny"
	PermitOnFirstPermit = "permit_on_first_permit"
)

// MaxEvaluations bounds a batch.
const MaxEvaluations = 1000

// ErrBadRequest is wrapped by every malformed request's error.
var ErrBadRequest = errors.New("malformed AuthZEN request")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// SubjectOf maps an AuthZEN subject to a grantd subject.
func SubjectOf(s *Subject) (subjects.Subject, error) {
	if s == nil {
		return subjects.Subject{}, bad("a subject is required")
	}
	var kind string
	switch s.Type {
	case "user":
		kind = "user"
	case "service_account":
		kind = "serviceaccount"
	case "kubernetes_service_account":
		kind = string(subjects.KubernetesServiceAccount)
	case "anonymous":
		return subjects.AnonymousCaller, nil
	default:
		return subjects.Subject{}, bad("subject type %q is not user, service_account, kubernetes_service_account or anonymous", s.Type)
	}
	sub, err := subjects.ParseSubject(kind + ":" + s.ID)
	if err != nil {
		return subjects.Subject{}, bad("%v", err)
	}
	return sub, nil
}

// Request maps one evaluation to grantd's decision request.
func Request(e Evaluation) (authz.Request, error) {
	sub, err := SubjectOf(e.Subject)
	if err != nil {
		return authz.Request{}, err
	}
	if e.Action == nil || e.Action.Name == "" {
		return authz.Request{}, bad("an action with a name is required")
	}
	if e.Resource == nil {
		return authz.Request{}, bad("a resource is required")
	}
	r := authz.Request{Subject: sub, Operation: e.Action.Name}
	if e.Context != nil {
		r.Options, r.Secrets = e.Context.Options, e.Context.Secrets
	}
	switch e.Resource.Type {
	case "collection":
		if e.Resource.ID == "" {
			return authz.Request{}, bad("a collection resource needs its path as id")
		}
		r.Collection = e.Resource.ID
	case "repository":
		if e.Resource.ID == "" {
			return authz.Request{}, bad("a repository resource needs namespace/name as id")
		}
		r.Repository = e.Resource.ID
	case "kubernetes_namespace":
		r.Kubernetes = true
		if e.Resource.ID != subjects.AllNamespaces {
			r.Namespace = e.Resource.ID
		}
	case "labels":
		r.HasLabels, r.Labels = true, map[string]string{}
		if l, ok := e.Resource.Properties["labels"].(map[string]any); ok {
			for k, v := range l {
				s, ok := v.(string)
				if !ok {
					return authz.Request{}, bad("label %q is not a string", k)
				}
				r.Labels[k] = s
			}
		}
		if e.Context != nil {
			for k, v := range e.Context.Labels {
				r.Labels[k] = v
			}
		}
	default:
		return authz.Request{}, bad("resource type %q is not collection, repository, kubernetes_namespace or labels", e.Resource.Type)
	}
	return r, nil
}

// AnswerOf turns a decision into an AuthZEN answer.
func AnswerOf(d authz.Decision) Answer {
	return Answer{Decision: d.Allowed, Context: AnswerContext{Reason: map[string]string{"en": d.Reason}, Revision: d.Revision}}
}

// Merge fills an item of a batch with the batch's defaults.
func Merge(defaults, item Evaluation) Evaluation {
	if item.Subject == nil {
		item.Subject = defaults.Subject
	}
	if item.Resource == nil {
		item.Resource = defaults.Resource
	}
	if item.Action == nil {
		item.Action = defaults.Action
	}
	if item.Context == nil {
		item.Context = defaults.Context
	}
	return item
}

// ParseEvaluations reads a batch request and checks its semantics.
func ParseEvaluations(body []byte) (Evaluations, error) {
	var b Evaluations
	if err := json.Unmarshal(body, &b); err != nil {
		return b, bad("%v", err)
	}
	switch b.Options.Semantic {
	case "":
		b.Options.Semantic = ExecuteAll
	case ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit:
	default:
		return b, bad("evaluations_semantic %q is not %s, %s or %s", b.Options.Semantic, ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit)
	}
	if len(b.Evaluations) > MaxEvaluations {
		return b, bad("%d evaluations, more than %d", len(b.Evaluations), MaxEvaluations)
	}
	return b, nil
}

// Stops reports whether a batch of the given semantics ends after an
// answer.
func Stops(semantic string, a Answer) bool {
	return semantic == DenyOnFirstDeny && !a.Decision || semantic == PermitOnFirstPermit && a.Decision
}
