// Package store owns Drover's durable state: users, tokens, clusters (with
// the endpoint their cluster agent reported), registration tokens,
// bindings, projects, auth providers, drivers and provisioning, and the
// gathered cluster status, in an embedded SQLite database (pure Go, no cgo)
// inside the server's data directory, or in PostgreSQL (pgx). The two
// dialects share every query (written with SQLite's placeholders, which
// the PostgreSQL connection rewrites) and keep one migration list each,
// equal table for table (TestDialectsAgree); CopyTo moves an SQLite store
// into PostgreSQL.
//
// The store keeps secrets only as salted hashes (see package token),
// password hashes, or blobs sealed by its callers (package seal). It holds
// no policy: who may do what is decided by its callers. It must never see,
// log or return a plaintext secret, and never repeat a database URL or
// password in an error or a log.
package store
