// Package request owns what a request is about, parsed once, at the edge of
// the handler chain (WithRequestInfo), and read by every later step from the
// context: which surface of Drover it addresses (the proxy, the JSON API or
// anything else), for a proxied request the cluster named in its path and
// the downstream path with the client's escaping kept, the Kubernetes verb,
// resource, namespace and name, and the path as it may appear in a log line
// (secrets redacted, length bounded).
//
// The cluster id and the downstream path are what the proxy acts on: the
// access check asks about that cluster and the proxy forwards that path, so
// they are parsed in exactly one place. The verb, resource, namespace and
// name are descriptions for the audit log and metrics only: this package
// must never be used to decide whether a request is allowed (the downstream
// apiserver decides that from the request itself). Every string it derives
// from a client is bounded, and the verb comes from a fixed set, so nothing
// a client sends can grow a metric's label set.
//
// Redaction is owned here too (redact.go), and nowhere else: LogPath and
// RedactPath give a request's path as a log line or the audit log may show
// it (registration tokens and any other token-shaped segment hidden,
// however the path is spelled; length bounded), RedactURL gives a URL as a
// view or a log line may show it (no userinfo, query or fragment).
package request
