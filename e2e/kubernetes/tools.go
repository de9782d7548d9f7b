//go:build tools

// The real Kubernetes programs the tests drive, built from this module:
// go build k8s.io/kubernetes/cmd/kube-apiserver and .../cmd/kubectl.
package kubernetes

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
