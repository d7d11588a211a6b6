//go:build tools

// Package tools pins the Kubernetes version whose control plane and node
// binaries the integration test bed builds (see mk/testbed.mk):
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
// kube-proxy. It is a module of its own so that the large k8s.io/kubernetes
// dependency graph never reaches the main module's go.mod.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
