// Package authproxy owns /k8s/clusters/{id}/...: the path from an
// authenticated caller to a downstream apiserver through the cluster's
// tunnel.
//
// Its steps are filters in the one chain pkg/server/chain composes
// (NewHandler), after authentication (package authn) and the access check
// (package access, which alone decides who may reach a cluster):
// WithClientIdentity decides who the cluster will see (403 for an identity
// Drover never forwards), WithClusterSession picks the cluster's live tunnel
// session, WithNestedApproval approves a kubectl --as,
// WithDownstreamCredential gets a token of the impersonation account of
// exactly that identity (package accounts). The Proxy itself is the last
// step: it checks that every earlier step ran for this very request (same
// cluster, credential and identity; a request missing one gets 500 and is
// never forwarded) and forwards with httputil.ReverseProxy. Rewrite strips
// every client identity header (package impersonation), sets the identity as
// impersonation headers and the account's token as the only credential. The
// round tripper checks those invariants again before anything leaves, so a
// request that lost its identity is refused, not sent with Drover's
// credential.
//
// Nested impersonation (kubectl --as, --as-group, --as-uid,
// --as-user-extra): a client's canonical Impersonate-User, -Group, -Uid and
// -Extra-* headers are a request, read by impersonation.ParseRequest after
// the access check; every other identity-shaped header is refused with 400,
// an extra under drover.dev/ with 403. An identity accounts.Check refuses
// (system and Drover identities, ServiceAccounts of reserved namespaces,
// system: uids) gets 403 without asking the cluster. The request is put to
// the target cluster, and only to it, as SubjectAccessReviews, one per part
// as the apiserver's impersonation filter checks them (verb impersonate on
// users/<name>, or serviceaccounts/<name> in its namespace; groups/<name>
// for each group; uids/<uid> and userextras/<key> named <value> for each
// extra value, in authentication.k8s.io) about the Drover user with its
// groups, system:authenticated and Drover's extras, stopping at the first
// refusal. The reviews go through the cluster agent's session only, with
// the controller's credential (the impersonation accounts may not create
// them). Approved: the request is forwarded exactly as asked (a
// ServiceAccount asked without groups gets no Impersonate-Group, so the
// apiserver gives it its own groups), with the Drover user in the
// drover.dev/original-user extra, through an impersonation account that
// may act as that identity only. Refused: 403 with the cluster's reason.
// Not answerable: 503. One deadline (10 s) bounds all the reviews of a
// request together, so a slow cluster costs a client 10 s, not 10 s per
// part.
//
// Answers are cached under a SHA-256 of the cluster, the token, the caller
// (id, name, groups) and the requested identity, so an entry is small
// however many groups the caller has. Approvals are reused for a few seconds
// (Options.NestedCacheTTL): a revocation in the cluster takes effect within
// them. Refusals are reused for 1 s, so a client repeating a refused request
// makes the cluster answer at most once a second per question, not once per
// request: a grant made in the cluster takes effect within that second.
// Failures to ask are never reused. A user may have at most 4 checks that
// missed the cache running at once (varying --as defeats any cache); past
// that the request gets 429 with Retry-After and the cluster is not asked.
//
// A requested user, group, uid, extra key or value must be at most 512
// bytes, non-empty, valid UTF-8 and a valid HTTP header value without
// leading or trailing whitespace (400 otherwise): upgrades reach the
// apiserver over HTTP/1.1, which trims header values, so "corp:admins "
// would be approved as one name and arrive as another. The same holds for the caller's own identity (403: it cannot be
// forwarded). User system:anonymous and group system:unauthenticated are
// refused (403): every forwarded identity carries system:authenticated.
//
// Watches and logs -f stream unbuffered (ReverseProxy flushes responses of
// unknown length at once). A watch is handed to the client one whole event
// at a time and resumed from its last delivered resourceVersion through the
// cluster's current session when its tunnel fails (watch.go); whatever ends
// a watch ends it with an ERROR event, never a torn stream. Upgrades (exec,
// attach, port-forward over SPDY or WebSocket) cannot be resumed; a
// WebSocket one that loses its tunnel, or that the proxy ends (revocation),
// is told so in its own protocol: an error-channel Status and a close frame
// (upgrade.go, wsframe.go follow the apiserver's frames to add them only
// between frames). Upgrades get a backend connection of their own; if the apiserver refuses
// the upgrade that connection is closed and so is the client's, so no bytes
// can follow on a connection the apiserver treats as authenticated (the
// CVE-2018-1002105 class).
//
// This package must never forward a request without an identity, never pass
// a client's Authorization, Impersonate-* or X-Remote-* header, never forward
// a request that asked to impersonate as anyone but the approved identity,
// and never put an internal error's text in a response.
package authproxy
