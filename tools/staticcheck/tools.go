//go:build tools

// Package tools pins staticcheck for `make lint` (mk/lint.mk builds it from
// this module into ~/.cache/drover/tools).
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
