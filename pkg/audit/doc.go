// Package audit owns Drover's audit log: one JSON line per API call and per
// proxied request, written once the response is done: time, user, groups,
// token id, cluster, verb, resource, namespace, name, status, latency and
// client address (request.Info.Client: the peer, or the address a trusted
// proxy forwarded, without a port). Two schemas (Format): Drover's own
// Entry, or kube-apiserver's audit.k8s.io/v1 Event at level Metadata, so
// existing pipelines parse it. Where it goes is its own too (Options,
// Open): a file rotated by size with bounded backups (File), or stdout.
//
// A file is read back too (Reader, for the API's audit query): from the
// end of the file and then of its backups, while they are written and
// renamed, a line of either format at a time (ParseLine), as an Entry.
// A query is bounded whatever the log holds: it reads at most
// MaxScanBytes, through one buffer (a line longer than MaxLineBytes is
// skipped, never held), and says where it stopped (Cursor: a file known
// by its first bytes, which rotation does not change, and an offset).
//
// It records who did what, never with what: it must never write a token, a
// password, a request or response body, or any header (Authorization
// included). Paths that carry a secret (the import URL) are redacted; the
// Kubernetes schema's requestURI is the redacted path, without the query.
package audit
