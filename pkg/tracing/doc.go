// Package tracing owns the server's OpenTelemetry traces of the request
// path: one server span per request, one span per step of the chain that
// can wait on something (authentication, the access check, the relay to a
// peer replica, the tunnel session, the nested-impersonation review, the
// downstream credential), and a client span for the request forwarded
// through the tunnel, whose context goes to the apiserver in a W3C
// traceparent header. Spans leave the process over OTLP/HTTP, batched.
//
// Tracing is off unless an endpoint is configured; then New returns a nil
// *Tracer, every method of which is a no-op that adds nothing to the
// request path: the filters are not even installed (no cost when off).
//
// A trace starts at Drover: a client's traceparent is ignored (a client
// could otherwise force every one of its requests to be sampled or graft
// them onto someone else's trace); only a request relayed by a verified
// peer replica continues the peer's trace.
//
// It must never put a credential, a header value, a query or an unbounded
// string in a span: paths are the redacted LogPath, and every string a
// client chooses is cut to maxAttr bytes. It must never block a request on
// the exporter: a full queue drops spans.
package tracing
