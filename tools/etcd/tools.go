//go:build tools

// Package tools pins the etcd version that the integration test bed builds
// (see mk/testbed.mk). etcd's main package is the root of
// go.etcd.io/etcd/server/v3, which `go install` refuses (its go.mod has
// replace directives), so it is built from this module instead.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
