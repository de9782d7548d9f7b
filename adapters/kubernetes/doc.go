// Package kubernetes translates kube-apiserver's webhooks into decisions:
// SubjectAccessReview (authorization.k8s.io v1 and v1beta1, answered in
// the request's own version) and AdmissionReview (admission.k8s.io/v1,
// validating pods and pod templates). It holds the wire types it needs
// rather than importing Kubernetes' modules; the tests in
// e2e/kubernetes check them against kube-apiserver's own client and a real
// API server.
//
// Who a Kubernetes user is: "system:serviceaccount:<ns>:<name>" is the
// Kubernetes service account subject k8s-serviceaccount:<ns>/<name>; any
// other name is the grantd user, or failing that the service account, of
// that name. A subject grantd does not know gets no opinion, so that the
// API server's other authorizers (RBAC) decide for its own components.
package kubernetes
