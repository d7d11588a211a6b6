// Package impersonation owns the identity headers on every request Drover
// forwards downstream.
//
// Why impersonation: the downstream apiserver stays the only authority on
// what a user may do (its own RBAC, its own audit log), and each credential
// Drover forwards a request with can do nothing but impersonate exactly the
// identity forwarded (package accounts).
//
// What is trusted: nothing the client sent. Strip removes every
// Authorization, Proxy-Authorization, Impersonate-* and X-Remote-* header in
// any case, and every header the client named in Connection:, before Set
// writes the identity Drover decided on. Both run inside
// ReverseProxy.Rewrite, on the outbound request only; Verify is the round
// tripper's last look at the result.
//
// Nested impersonation (kubectl --as / --as-group): ParseRequest reads the
// client's canonical Impersonate-User (exactly one) and Impersonate-Group
// headers as a request to act as someone else, and refuses every other
// identity-shaped header instead of ignoring it. A request is not a grant:
// package authproxy asks the target cluster (a SubjectAccessReview) and
// either forwards as the requested identity, with the Drover user in the
// drover.dev/original-user extra, or refuses. A request asking to
// impersonate is never forwarded as the caller.
//
// Every value must arrive as Drover checked it. HTTP/1.1, which every
// upgrade uses, trims leading and trailing whitespace from header values,
// and characters invalid in a header value are refused or rewritten on the
// way; so Set (and ParseRequest, for what a client asks) refuses an empty
// value, a value with leading or trailing space or tab, and any value
// golang.org/x/net/http/httpguts.ValidHeaderFieldValue rejects, rather than
// send "corp:admins " and have the apiserver read "corp:admins".
// ParseRequest also caps each name at MaxNameLen bytes and refuses user
// system:anonymous and group system:unauthenticated, since Set adds
// system:authenticated to every identity.
//
// This package must never forward a request with no identity or with an
// identity it could not send unchanged: Set returns an error, writes
// nothing, and callers refuse the request.
package impersonation
