package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
)

// maxAttr bounds every string attribute a client chooses.
const maxAttr = 128

// Attribute keys beyond OpenTelemetry's HTTP conventions.
const (
	attrKind        = "drover.request.kind"
	attrCluster     = "drover.cluster.id"
	attrVerb        = "drover.k8s.verb"
	attrResource    = "drover.k8s.resource"
	attrSubresource = "drover.k8s.subresource"
	attrNamespace   = "drover.k8s.namespace"
	attrUser        = "drover.user.id"
	attrPeer        = "drover.peer.replica"
	attrAnswered    = "drover.step.answered"
	attrVia         = "drover.tunnel.via"
)

// WithServerSpan starts the request's span, named after what it is and
// its verb ("drover proxy get"), with the request's Info as attributes and
// its status at the end. fromPeer says whether the request was relayed by
// a verified peer replica: only then does the span continue the trace in
// the request's traceparent header. Put it right inside the relay's
// WithPeer (request.WithRequestInfo must have run).
func (t *Tracer) WithServerSpan(next http.Handler, fromPeer func(context.Context) (string, bool)) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var attrs []attribute.KeyValue
		if fromPeer != nil {
			if peer, ok := fromPeer(ctx); ok {
				ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
				attrs = append(attrs, attribute.String(attrPeer, bound(peer)))
			}
		}
		name := "drover"
		info, ok := request.FromContext(ctx)
		if ok {
			name = "drover " + info.Kind.String() + " " + info.Verb
			attrs = append(attrs,
				attribute.String("http.request.method", bound(r.Method)),
				attribute.String("url.path", bound(info.LogPath)),
				attribute.String(attrKind, info.Kind.String()),
				attribute.String(attrVerb, info.Verb))
			if info.Client.IsValid() {
				attrs = append(attrs, attribute.String("client.address", info.Client.String()))
			}
			if info.Kind == request.KindProxy && info.ClusterID != "" {
				attrs = append(attrs, attribute.String(attrCluster, info.ClusterID))
				if k := info.Kube; k.IsResource {
					attrs = append(attrs, attribute.String(attrResource, bound(k.Resource)),
						attribute.String(attrSubresource, bound(k.Subresource)),
						attribute.String(attrNamespace, bound(k.Namespace)))
				}
			}
		}
		// The client's traceparent is never a parent: a new root.
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
		if !trace.SpanContextFromContext(ctx).IsRemote() {
			opts = append(opts, trace.WithNewRoot())
		}
		ctx, span := t.tracer.Start(ctx, name, opts...)
		defer span.End()
		rec := request.NewRecorder(w)
		next.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, serverSpanKey{}, span)))
		code := rec.Status(r)
		span.SetAttributes(attribute.Int("http.response.status_code", code))
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	})
}

type serverSpanKey struct{}

// WithIdentity puts the authenticated caller's user id on the request's
// span. Put it right inside authentication.
func (t *Tracer) WithIdentity(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span, ok := r.Context().Value(serverSpanKey{}).(trace.Span)
		if id, found := authn.FromContext(r.Context()); ok && found {
			span.SetAttributes(attribute.String(attrUser, id.UserID))
		}
		next.ServeHTTP(w, r)
	})
}

// Step is filter with a span of its own, named name, from the moment the
// request enters filter to the moment filter passes it on to next (or
// answers it: the span then says drover.step.answered). The steps of one
// request are siblings under its server span, so each one's own time
// shows.
func (t *Tracer) Step(name string, filter func(http.Handler) http.Handler, next http.Handler) http.Handler {
	if t == nil {
		return filter(next)
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, ok := r.Context().Value(stepKey{}).(*step)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		st.passed = true
		st.span.End()
		next.ServeHTTP(w, r.WithContext(trace.ContextWithSpan(r.Context(), st.parent)))
	})
	h := filter(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parent := trace.SpanFromContext(r.Context())
		ctx, span := t.tracer.Start(r.Context(), name)
		st := &step{span: span, parent: parent}
		h.ServeHTTP(w, r.WithContext(context.WithValue(ctx, stepKey{}, st)))
		if !st.passed {
			span.SetAttributes(attribute.Bool(attrAnswered, true))
			span.End()
		}
	})
}

type stepKey struct{}

type step struct {
	span   trace.Span
	parent trace.Span
	passed bool
}

// WithPropagation writes the request's trace context into its headers, so
// that a request relayed to a peer replica continues this trace there.
// Put it right outside the relay.
func (t *Tracer) WithPropagation(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Traceparent")
		r.Header.Del("Tracestate")
		t.prop.Inject(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r)
	})
}

// StartForward starts the client span of a request forwarded through the
// tunnel of cluster, by the agent of kind via, and writes its context into
// req's headers (replacing the client's) for the apiserver; end records
// the answer (code 0 when err is set).
func (t *Tracer) StartForward(req *http.Request, cluster, via string) (end func(code int, err error)) {
	if t == nil {
		return func(int, error) {}
	}
	ctx, span := t.tracer.Start(req.Context(), "drover forward", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(attrCluster, cluster), attribute.String(attrVia, via)))
	req.Header.Del("Traceparent")
	req.Header.Del("Tracestate")
	t.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return func(code int, err error) {
		if err != nil {
			// Not the error's text: it is not the span's to carry.
			span.SetStatus(codes.Error, "forward failed")
		} else {
			span.SetAttributes(attribute.Int("http.response.status_code", code))
		}
		span.End()
	}
}

// bound cuts s to maxAttr bytes of valid UTF-8 (an OTLP string must be).
func bound(s string) string {
	if len(s) > maxAttr {
		s = s[:maxAttr]
	}
	return strings.ToValidUTF8(s, "")
}
