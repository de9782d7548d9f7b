package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/grantd/grantd/adapters/kubernetes"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/subjects"
)

// The paths kube-apiserver calls: the authorization webhook
// (--authorization-webhook-config-file) and the validating admission
// webhook (a ValidatingWebhookConfiguration). Both are for service
// accounts holding the authorize capability, like the Docker plugin's
// callers, authenticated with an API token.
const (
	KubernetesAuthorizePath = "/kubernetes/authorize"
	KubernetesAdmitPath     = "/kubernetes/admit"
)

// kubeBackend answers the Kubernetes webhooks from the state and the
// decision engine.
type kubeBackend struct{ *deps }

var _ kubernetes.Backend = kubeBackend{}

// Account is the grantd user, else service account, of a name.
func (b kubeBackend) Account(name string) (subjects.Subject, bool) {
	r := b.store.Read().SharedRows() // only asks whether the row is there
	if u, err := r.User(name); err == nil && u != nil {
		return subjects.OfUser(name), true
	}
	if a, err := r.ServiceAccount(name); err == nil && a != nil {
		return subjects.OfServiceAccount(name), true
	}
	return subjects.Subject{}, false
}

// Decide asks the decision engine, unless this node's state is too stale.
func (b kubeBackend) Decide(ctx context.Context, r authz.Request) authz.Decision {
	return b.decide(ctx, r, viaKubernetes)
}

func (s *Server) kubernetesRoutes(mux *http.ServeMux) {
	caller := func(next http.Handler) http.Handler {
		return s.limitBody(s.requireBearer(func(p *Principal) error { return rights.DecisionService(p) }, next))
	}
	mux.Handle("POST "+KubernetesAuthorizePath, caller(http.HandlerFunc(s.kubeAuthorize)))
	mux.Handle("POST "+KubernetesAdmitPath, caller(http.HandlerFunc(s.kubeAdmit)))
}

func (s *Server) kubeAuthorize(w http.ResponseWriter, r *http.Request) {
	body, buf, ok := s.readReview(w, r)
	defer putBody(buf)
	if !ok {
		return
	}
	// The answer goes into a pooled buffer too: it was the largest
	// allocation a review left behind.
	out := bodyBuffers.Get().(*[]byte)
	defer putBody(out)
	answer, verdict, d, err := kubernetes.Authorize(r.Context(), kubeBackend{s.deps}, body, (*out)[:0])
	if err != nil {
		s.reviewError(w, err)
		return
	}
	*out = answer[:0]
	if d.Code == authz.CodeInternalError {
		s.log.Warn("Kubernetes authorization failed closed", "verdict", verdict, "reason", d.Reason)
	}
	writeJSON(w, answer)
}

func (s *Server) kubeAdmit(w http.ResponseWriter, r *http.Request) {
	body, buf, ok := s.readReview(w, r)
	defer putBody(buf)
	if !ok {
		return
	}
	answer, _, err := kubernetes.Admit(r.Context(), kubeBackend{s.deps}, body)
	if err != nil {
		s.reviewError(w, err)
		return
	}
	writeJSON(w, answer)
}

// readReview reads a review's body into a pooled buffer (readBody), which
// the caller returns with putBody whatever the outcome.
func (s *Server) readReview(w http.ResponseWriter, r *http.Request) ([]byte, *[]byte, bool) {
	body, buf, err := readBody(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "review too large\n", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading the review failed\n", http.StatusBadRequest)
		}
		return nil, buf, false
	}
	return body, buf, true
}

// reviewError answers a malformed review with 400: kube-apiserver treats
// a failed webhook call as an error, which fails closed on its side.
func (s *Server) reviewError(w http.ResponseWriter, err error) {
	if errors.Is(err, kubernetes.ErrBadReview) {
		http.Error(w, err.Error()+"\n", http.StatusBadRequest)
		return
	}
	s.log.Error("answering a Kubernetes review", "err", err)
	http.Error(w, "internal error\n", http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
