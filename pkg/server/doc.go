// Package server composes Drover's management server: the store, TLS
// material, authentication, the JSON API, the agents' tunnel endpoint and the
// cluster proxy, behind one HTTPS listener.
//
// The whole handler chain is built by package chain (pkg/server/chain), so
// the order of the security filters is reviewed in one place. This package wires; it owns no
// policy of its own.
//
// It also owns the data directory's life: the listeners are bound before
// anything else (an address in use is reported before the directory is made
// or a password printed); a running server holds an exclusive lock on
// <data-dir>/drover.lock, so a second server or an offline command
// (ResetAdminPassword, drover-server reset-admin-password) is refused
// while it runs; the first admin is created on an empty store, with the
// password of --bootstrap-password-file or a random one.
//
// It must never print a secret except the random bootstrap admin password,
// once, to the operator's terminal on first start, and never that one
// either when the password came from a file.
package server
