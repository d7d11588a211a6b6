// Package authendpoint is kube-api-auth: the authorized cluster endpoint's
// authentication webhook, which runs inside a downstream cluster next to its
// kube-apiserver (--authentication-token-webhook-config-file) and answers
// TokenReview v1 requests for Drover tokens.
//
// It validates locally, from the token Secrets the Drover server synced into
// cattle-system (salted hash, user, groups, expiry; see package downstream),
// so a user's kubeconfig keeps working straight against the cluster while
// the Drover server is down or far away. Revoking a token in Drover deletes
// its Secret, and the next review fails.
//
// It must never accept a token whose hash, expiry or cluster scope it cannot
// verify, never log a presented token, and never hold any right beyond
// reading Secrets in cattle-system.
package authendpoint
