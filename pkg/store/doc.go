// Package store owns Drover's durable state: users, tokens, clusters and
// cluster registration tokens, in an embedded SQLite database (pure Go, no
// cgo) inside the server's data directory.
//
// The store keeps secrets only as salted hashes (see package token) and
// password hashes. It holds no policy: who may do what is decided by its
// callers. It must never see, log or return a plaintext secret.
package store
