// Package token owns the format of every bearer secret Drover issues: user API
// tokens, kubeconfig tokens, session tokens and cluster registration tokens.
//
// A token is "<id>:<secret>". The id is public (it names the row, appears in
// audit logs and in Impersonate-Extra values); the secret is 32 bytes from
// crypto/rand, base32-encoded. Only a salted SHA-256 of the secret is stored,
// and verification compares in constant time.
//
// This package must never log, print or return a secret except from New, and
// never compare secrets with ==.
package token
