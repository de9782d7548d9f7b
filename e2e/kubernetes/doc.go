// Package kubernetes tests grantd with the real Kubernetes: a
// kube-apiserver and kubectl built from k8s.io/kubernetes (this separate
// module pins it, with its staging modules at the matching release, so
// that the main module does not carry Kubernetes' dependencies), run on
// Debian's etcd. It also drives grantd with kube-apiserver's own webhook
// authorizer client (k8s.io/apiserver), the faster layer. grantd and
// grantctl are built from the main module and run as processes.
package kubernetes
