//go:build tools

// Package tools pins the Dex version that mk/idp.mk builds for the OIDC
// provider tests (test/idp, pkg/providers/oidc). Dex's go.mod replaces its own
// api/v2 module with a relative path, so `go install` refuses it; it is built
// from this module, which requires both github.com/dexidp/dex and
// github.com/dexidp/dex/api/v2. It is a module of its own so that Dex's
// dependency graph never reaches the main module's go.mod.
package tools

import (
	// Required explicitly: Dex's own go.mod replaces it with ./api/v2, which
	// a dependent module does not inherit, and the version Dex's go.mod
	// names (v2.1.0) lacks the connector API that this Dex (v2.41.1) serves.
	_ "github.com/dexidp/dex/api/v2"
	_ "github.com/dexidp/dex/cmd/dex"
)
