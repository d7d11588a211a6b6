// Package ids owns the format of Drover's ids: the names of its rows
// (clusters, users, projects, bindings), of its tokens (the public half of
// "<id>:<secret>", see package token) and of its session signing keys.
//
// An id is a kind's prefix ("c-", "u-", ...) followed by a fixed number of
// characters from a-z and 0-9 drawn from crypto/rand, every character
// equally likely. Kind.New makes one and Kind.Valid checks one; nothing
// else in Drover generates an id or decides whether a string is one, so the
// two cannot drift apart. The formats are wire formats: they appear in URLs
// (/k8s/clusters/c-xxxxx), in kubeconfigs, tokens, audit logs and the store.
// They must never change in a way that refuses an id this package has
// already made.
//
// Ids are public names, not secrets. Valid is on the proxy's hot path (every
// proxied request's cluster id passes through it): it must never allocate,
// and this package must never import anything beyond the standard library
// (the agent and the local cluster driver link it).
package ids
