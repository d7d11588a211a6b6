//go:build tools

// Package tools pins the Kubernetes version whose kube-apiserver the
// integration test bed builds (see mk/testbed.mk). It is a module of its own
// so that the large k8s.io/kubernetes dependency graph never reaches the
// main module's go.mod.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
