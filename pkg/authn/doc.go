// Package authn owns the first step of every request: turning a bearer token
// into an Identity (user, groups, token id, cluster scope), or refusing.
//
// The per-request check reads a small in-memory cache keyed by token id; a
// hit still compares a digest of the presented secret in constant time, and
// Invalidate drops an entry the moment a token is revoked. Failures are never
// cached. This package must never log or return a presented secret, and must
// never produce an Identity for a request it could not verify: callers refuse
// requests without one.
package authn
