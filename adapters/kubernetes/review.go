package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// Backend is what the webhooks ask of grantd.
type Backend interface {
	// Account is the grantd subject of a Kubernetes user name other than a
	// service account's: the user of that name, else the service account;
	// ok is false when grantd has neither.
	Account(name string) (s subjects.Subject, ok bool)
	Decide(ctx context.Context, r authz.Request) authz.Decision
}

// The API versions of SubjectAccessReview.
const (
	authorizationV1      = "authorization.k8s.io/v1"
	authorizationV1beta1 = "authorization.k8s.io/v1beta1"
	serviceAccountPrefix = "system:serviceaccount:"
)

// accessReview is a SubjectAccessReview as the webhook receives and
// answers it. v1 names the groups "groups", v1beta1 "group"; both are read.
type accessReview struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Spec       reviewSpec   `json:"spec"`
	Status     reviewStatus `json:"status"`
}

type reviewSpec struct {
	ResourceAttributes    *resourceAttributes    `json:"resourceAttributes,omitempty"`
	NonResourceAttributes *nonResourceAttributes `json:"nonResourceAttributes,omitempty"`
	User                  string                 `json:"user,omitempty"`
	Groups                []string               `json:"groups,omitempty"`
	Group                 []string               `json:"group,omitempty"`
	UID                   string                 `json:"uid,omitempty"`
}

type resourceAttributes struct {
	Namespace   string `json:"namespace,omitempty"`
	Verb        string `json:"verb,omitempty"`
	Group       string `json:"group,omitempty"`
	Version     string `json:"version,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Name        string `json:"name,omitempty"`
}

type nonResourceAttributes struct {
	Path string `json:"path,omitempty"`
	Verb string `json:"verb,omitempty"`
}

type reviewStatus struct {
	Allowed         bool   `json:"allowed"`
	Denied          bool   `json:"denied,omitempty"`
	Reason          string `json:"reason,omitempty"`
	EvaluationError string `json:"evaluationError,omitempty"`
}

// Verdict is the webhook's answer in the API's three values.
type Verdict string

// The three answers of an authorization webhook.
const (
	Allow     Verdict = "allow"
	Deny      Verdict = "deny"
	NoOpinion Verdict = "no-opinion"
)

// MaxGroups bounds the groups of one review's user.
const MaxGroups = 256

// ErrBadReview is wrapped by every error about a malformed review.
var ErrBadReview = errors.New("malformed review")

// Authorize answers one SubjectAccessReview body. The answer, appended to
// dst (which may be nil, or a buffer the caller reuses), is the same
// review with its status filled in, in the request's own apiVersion; the
// verdict and the decision behind it are returned for logs and metrics.
// The answer holds no part of body.
func Authorize(ctx context.Context, b Backend, body, dst []byte) (answer []byte, v Verdict, d authz.Decision, err error) {
	var rv accessReview
	if !decodeReview(body, &rv) {
		rv = accessReview{}
		if err := json.Unmarshal(body, &rv); err != nil {
			return nil, "", d, fmt.Errorf("%w: %w", ErrBadReview, err)
		}
	}
	if rv.Kind != "SubjectAccessReview" || rv.APIVersion != authorizationV1 && rv.APIVersion != authorizationV1beta1 {
		return nil, "", d, fmt.Errorf("%w: a SubjectAccessReview of %s or %s, not %s %s", ErrBadReview,
			authorizationV1, authorizationV1beta1, rv.APIVersion, rv.Kind)
	}
	v, d = authorize(ctx, b, rv.Spec)
	rv.Status = reviewStatus{Allowed: v == Allow, Denied: v == Deny, Reason: d.Reason}
	if v == NoOpinion {
		rv.Status.Reason = "grantd has no opinion: " + d.Reason
	}
	if d.Code == authz.CodeInternalError {
		rv.Status.EvaluationError = d.Reason
	}
	return appendReview(dst, &rv), v, d, nil
}

func authorize(ctx context.Context, b Backend, spec reviewSpec) (Verdict, authz.Decision) {
	subject, ok := Subject(b, spec.User)
	if !ok {
		return NoOpinion, authz.Decision{Code: authz.CodeUnknownSubject,
			Reason: fmt.Sprintf("Kubernetes user %q is not a grantd user, service account or granted Kubernetes service account", spec.User)}
	}
	groups := spec.Groups
	if len(groups) == 0 {
		groups = spec.Group // v1beta1's name for them
	}
	if len(groups) > MaxGroups {
		return Deny, authz.Decision{Code: authz.CodeMalformedRequest,
			Reason: fmt.Sprintf("the review names %d groups, more than grantd reads (%d)", len(groups), MaxGroups)}
	}
	req := authz.Request{Subject: subject, Kubernetes: true, Groups: groups}
	// Without a grant, discovery and a user's questions about themselves
	// fall through to the API server's own policy (RBAC's system:discovery
	// and system:basic-user), so that kubectl works for anyone grantd lets
	// do anything at all.
	fallThrough := false
	switch a := spec.ResourceAttributes; {
	case a != nil:
		req.Namespace = a.Namespace
		req.Operation = roles.KubernetesOperation(a.Group, a.Resource, a.Subresource, a.Verb)
		fallThrough = a.Verb == "create" && a.Subresource == "" && selfReviews[a.Group+"/"+a.Resource]
	case spec.NonResourceAttributes != nil:
		fallThrough = true
		req.Operation = roles.NonResourceOperation(spec.NonResourceAttributes.Verb)
	default:
		return Deny, authz.Decision{Code: authz.CodeMalformedRequest, Reason: "the review has neither resource nor non-resource attributes"}
	}
	d := b.Decide(ctx, req)
	switch {
	case d.Allowed:
		return Allow, d
	case d.Code == authz.CodeUnknownSubject:
		return NoOpinion, d
	case fallThrough && d.Code == authz.CodeMissingOperation:
		return NoOpinion, d
	}
	return Deny, d
}

// selfReviews are the reviews a user asks about themselves (kubectl auth
// can-i, kubectl auth whoami).
var selfReviews = map[string]bool{
	"authorization.k8s.io/selfsubjectaccessreviews": true,
	"authorization.k8s.io/selfsubjectrulesreviews":  true,
	"authentication.k8s.io/selfsubjectreviews":      true,
}

// Subject maps a Kubernetes user name to a grantd subject; ok is false for
// a name grantd does not know (the API server's own components included).
func Subject(b Backend, user string) (subjects.Subject, bool) {
	if rest, ok := strings.CutPrefix(user, serviceAccountPrefix); ok {
		ns, name, found := strings.Cut(rest, ":")
		if !found || subjects.ValidKubernetesServiceAccount(ns+"/"+name) != nil {
			return subjects.Subject{}, false
		}
		// Known once a grant names it: the decision says unknown_subject
		// otherwise, which is no opinion too.
		return subjects.OfKubernetesServiceAccount(ns, name), true
	}
	if strings.HasPrefix(user, "system:") || subjects.ValidUsername(user) != nil {
		return subjects.Subject{}, false
	}
	return b.Account(user)
}
