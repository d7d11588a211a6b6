// Package audit owns Drover's audit log: one JSON line per API call and per
// proxied request, written once the response is done: time, user, groups,
// token id, cluster, verb, resource, namespace, name, status, latency and
// client address (request.Info.Client: the peer, or the address a trusted
// proxy forwarded, without a port).
//
// It records who did what, never with what: it must never write a token, a
// password, a request or response body, or any header (Authorization
// included). Paths that carry a secret (the import URL) are redacted.
package audit
