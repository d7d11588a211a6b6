//go:build tools

// Package tools pins the Helm version that mk/helm.mk builds for the deploy
// tests (test/deploy) and for regenerating deploy/manifests/server.yaml. It is
// a module of its own so that Helm's dependency graph never reaches the main
// module's go.mod.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
