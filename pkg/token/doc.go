// Package token owns the format of every bearer secret Drover issues: user API
// tokens, kubeconfig tokens, session tokens and cluster registration tokens.
//
// A token is "<id>:<secret>". The id is public (it names the row, appears
// in audit logs and in Impersonate-Extra values) and has the format package
// ids gives ids.Token, ids.Registration or ids.Session; the secret is 32
// bytes from crypto/rand, base32-encoded. Only a salted SHA-256 of the
// secret is stored, and verification compares in constant time.
//
// It also owns how a bearer credential is read from a request (Bearer): one
// Authorization header, scheme "Bearer" in any case, value trimmed.
//
// The agent links this package: it must never import anything of the
// server (store, authn, tunnel, api, ...).
//
// A token may also be derived from another (Derive: an HMAC keyed with the
// parent's secret), for a credential that must be handed out again without
// being stored: only a holder of the parent can compute it.
//
// This package must never log or print a secret, never return one except
// from New, Derive and Bearer (which hands back what the client sent), and
// never compare secrets with ==.
package token
