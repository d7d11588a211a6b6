// Package sdk is what a driver author needs to write a Drover cluster
// driver: the Driver interface (the protocol in package driverpb, as Go
// methods), embeddable Unimplemented* helpers for the optional calls, option
// getters that accept a flag's kebab-case or camelCase name, a gRPC server
// (NewServer(d).ServeOrDie(addr), where addr is the launcher's one argument)
// and GenerateServiceAccountToken, which does PostCheck's usual job. It
// also owns the rule for etcd snapshot names (CheckSnapshotName), which the
// server applies before it calls a driver and a driver may apply again.
//
// A driver is a separate program. Drover starts it with one argument, the
// address to listen on, in an empty environment (PATH, HOME = the driver's
// state directory, TMPDIR = a directory of its own for this run), calls it,
// and stops it: every call may be served by a fresh process, so a driver
// keeps what it must remember in ClusterInfo.metadata or in files under
// HOME, never in memory.
//
// This package must never log or return the credentials it handles (tokens,
// passwords, keys) except in ClusterInfo, and must never listen on anything
// but a unix socket or a loopback address.
package sdk
