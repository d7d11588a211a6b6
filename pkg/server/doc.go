// Package server composes Drover's management server: the store, TLS
// material, authentication, the JSON API, the agents' tunnel endpoint and the
// cluster proxy, behind one HTTPS listener.
//
// The whole handler chain is built by package chain (pkg/server/chain), so
// the order of the security filters is reviewed in one place. This package wires; it owns no
// policy of its own, and must never print a secret except the bootstrap
// admin password, once, to the operator's terminal on first start.
package server
