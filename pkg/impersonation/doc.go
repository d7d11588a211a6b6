// Package impersonation owns the identity headers on every request Drover
// forwards downstream.
//
// Why impersonation: the downstream apiserver stays the only authority on
// what a user may do (its own RBAC, its own audit log), and Drover holds one
// credential per cluster that can do nothing but impersonate.
//
// What is trusted: nothing the client sent. Strip removes every
// Authorization, Proxy-Authorization, Impersonate-* and X-Remote-* header in
// any case, and every header the client named in Connection:, before Set
// writes the authenticated identity. Both run inside ReverseProxy.Rewrite, on
// the outbound request only.
//
// This package must never forward a request with no identity: Set returns an
// error for an empty user, and callers refuse the request.
package impersonation
