//go:build tools

// Package tools pins the Kubernetes version whose e2e test images `make
// conformance-nodes` builds from source (see mk/conformance.mk): agnhost,
// the test utility almost every e2e test with a pod runs. It is the same
// version as tools/kubee2e (which builds e2e.test) but a module of its own,
// so that adding an image's dependencies never changes kubee2e's go.sum,
// whose hash decides when the large e2e.test is rebuilt.
package tools

import (
	_ "k8s.io/kubernetes/test/images/agnhost"
)
