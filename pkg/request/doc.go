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
// they are parsed in exactly one place, and a path segment is a cluster id
// only when ids.Cluster.Valid says so (that check never allocates). The verb, resource, namespace and
// name are descriptions for the audit log and metrics only: this package
// must never be used to decide whether a request is allowed (the downstream
// apiserver decides that from the request itself). Every string it derives
// from a client is bounded, and the verb comes from a fixed set, so nothing
// a client sends can grow a metric's label set.
//
// The client's address (Info.Client) is derived here and nowhere else: the
// connection's peer, or, when the peer is a trusted proxy
// (ClientOptions.TrustedProxies), the rightmost address of the one
// forwarding header they append to that is not itself a trusted proxy. A
// forwarding header from any other peer is never read. The login limits
// and the audit log use it; per-address limits key it with AddrKey (an
// IPv6 /64 is one client).
//
// Redaction is owned here too (redact.go), and nowhere else: LogPath and
// RedactPath give a request's path as a log line or the audit log may show
// it (registration tokens and any other token-shaped segment hidden,
// however the path is spelled; length bounded), RedactURL gives a URL as a
// view or a log line may show it (no userinfo, query or fragment).
package request
