package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/tracing"
)

// newTracer returns a Tracer whose spans land in the returned exporter
// once flush is called.
func newTracer(t *testing.T) (*tracing.Tracer, *tracetest.InMemoryExporter, func()) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.New(context.Background(), tracing.Options{Exporter: keep{exp}, SampleRatio: 1, Service: "drover-server"})
	if err != nil || tr == nil {
		t.Fatalf("New: %v, %v", tr, err)
	}
	return tr, exp, func() {
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// keep is an exporter whose spans outlive its shutdown (the in-memory
// one forgets them).
type keep struct{ *tracetest.InMemoryExporter }

func (keep) Shutdown(context.Context) error { return nil }

// pass and refuse are filters: one passes every request on, the other
// answers 403.
func pass(next http.Handler) http.Handler { return next }

func refuse(http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })
}

func withInfo(next http.Handler) http.Handler {
	return request.WithRequestInfo(next, request.ClientOptions{})
}

// byName indexes spans by name (each name once in these tests).
func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	m := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}

func attrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// TestSteps: every step is a child of the request's span, ends when it
// passes the request on, and says so when it answered it itself; the
// request's span names the request and carries its status.
func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		second    func(http.Handler) http.Handler
		wantSpans []string
		answered  string
		code      string
	}{
		{"all pass", pass, []string{"drover forward", "drover proxy list", "step a", "step b"}, "", "200"},
		{"second answers", refuse, []string{"drover proxy list", "step a", "step b"}, "step b", "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, exp, flush := newTracer(t)
			last := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tr.StartForward(r, "c-abcde", "cluster")(http.StatusOK, nil)
				w.WriteHeader(http.StatusOK)
			})
			h := withInfo(tr.WithServerSpan(tr.Step("step a", pass, tr.Step("step b", tc.second, last)), nil))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/k8s/clusters/c-abcde/api/v1/namespaces/ns/pods", nil))
			flush()
			spans := exp.GetSpans()
			var names []string
			for _, s := range spans {
				names = append(names, s.Name)
			}
			if diff := cmp.Diff(tc.wantSpans, sorted(names)); diff != "" {
				t.Fatalf("spans (-want +got):\n%s", diff)
			}
			m := byName(spans)
			root := m["drover proxy list"]
			if root.Parent.IsValid() || root.SpanKind != trace.SpanKindServer {
				t.Errorf("request span: parent %v kind %v, want a server root", root.Parent, root.SpanKind)
			}
			want := map[string]string{"http.request.method": "GET", "url.path": "/k8s/clusters/c-abcde/api/v1/namespaces/ns/pods",
				"drover.request.kind": "proxy", "drover.k8s.verb": "list", "drover.cluster.id": "c-abcde",
				"drover.k8s.resource": "pods", "drover.k8s.subresource": "", "drover.k8s.namespace": "ns",
				"http.response.status_code": tc.code, "client.address": "192.0.2.1"}
			if diff := cmp.Diff(want, attrs(root)); diff != "" {
				t.Errorf("request span attributes (-want +got):\n%s", diff)
			}
			for _, n := range tc.wantSpans {
				if n == "drover proxy list" {
					continue
				}
				s := m[n]
				if s.Parent.SpanID() != root.SpanContext.SpanID() || s.SpanContext.TraceID() != root.SpanContext.TraceID() {
					t.Errorf("%s: parent %v, want the request span %v", n, s.Parent.SpanID(), root.SpanContext.SpanID())
				}
				if got := attrs(s)["drover.step.answered"]; (got == "true") != (n == tc.answered) {
					t.Errorf("%s: answered %q", n, got)
				}
			}
			if a, b := m["step a"], m["step b"]; a.EndTime.After(b.StartTime) {
				t.Errorf("step a ended at %v, after step b started at %v: not one after the other", a.EndTime, b.StartTime)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

const clientTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// TestTraceContext: a client's traceparent never becomes a parent, and the
// forwarded request carries Drover's own in its place; a verified peer's
// does continue its trace.
func TestTraceContext(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fromPeer  func(context.Context) (string, bool)
		continued bool
	}{
		{"client", nil, false},
		{"unverified", func(context.Context) (string, bool) { return "", false }, false},
		{"peer", func(context.Context) (string, bool) { return "i-peer", true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, exp, flush := newTracer(t)
			var sent string
			last := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				out := r.Clone(r.Context())
				tr.StartForward(out, "c-abcde", "node")(200, nil)
				sent = out.Header.Get("Traceparent")
			})
			req := httptest.NewRequest(http.MethodGet, "/k8s/clusters/c-abcde/version", nil)
			req.Header.Set("traceparent", clientTraceparent)
			withInfo(tr.WithServerSpan(last, tc.fromPeer)).ServeHTTP(httptest.NewRecorder(), req)
			flush()
			m := byName(exp.GetSpans())
			root, fwd := m["drover proxy get"], m["drover forward"]
			if got := root.SpanContext.TraceID().String() == "0af7651916cd43dd8448eb211c80319c"; got != tc.continued {
				t.Errorf("the request span continued the header's trace: %v, want %v", got, tc.continued)
			}
			if got := root.Parent.IsValid(); got != tc.continued {
				t.Errorf("the request span has a parent: %v, want %v", got, tc.continued)
			}
			want := "00-" + fwd.SpanContext.TraceID().String() + "-" + fwd.SpanContext.SpanID().String() + "-01"
			if sent != want {
				t.Errorf("forwarded traceparent %q, want the forward span's %q", sent, want)
			}
			if got := attrs(fwd)["drover.tunnel.via"]; got != "node" {
				t.Errorf("via %q", got)
			}
		})
	}
}

// TestIdentity: the authenticated user's id lands on the request span.
func TestIdentity(t *testing.T) {
	tr, exp, flush := newTracer(t)
	authed := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), authn.Identity{UserID: "u-1234567890", Username: "alice"})))
		})
	}
	h := withInfo(tr.WithServerSpan(authed(tr.WithIdentity(http.NotFoundHandler())), nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v3/users/me", nil))
	flush()
	root := byName(exp.GetSpans())["drover api get"]
	if got := attrs(root)["drover.user.id"]; got != "u-1234567890" {
		t.Errorf("user id %q; attributes %v", got, attrs(root))
	}
	if _, named := attrs(root)["drover.user.name"]; named {
		t.Error("the span names the user")
	}
}

// TestHostileAttributes: whatever a client puts in the path, the span's
// strings are valid UTF-8 and bounded.
func TestHostileAttributes(t *testing.T) {
	tr, exp, flush := newTracer(t)
	long := strings.Repeat("x", 5000)
	req := httptest.NewRequest(http.MethodGet, "/k8s/clusters/c-abcde/api/v1/namespaces/%ff%fe"+long+"/pods"+long, nil)
	req.RemoteAddr = netip.MustParseAddrPort("127.0.0.1:5555").String()
	withInfo(tr.WithServerSpan(http.NotFoundHandler(), nil)).ServeHTTP(httptest.NewRecorder(), req)
	flush()
	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			if kv.Value.Type() != attribute.STRING {
				continue
			}
			v := kv.Value.AsString()
			if !utf8.ValidString(v) || len(v) > 512 {
				t.Errorf("%s: %d bytes, valid UTF-8 %v", kv.Key, len(v), utf8.ValidString(v))
			}
		}
	}
}

// handler is a comparable http.Handler.
type handler struct{ name string }

func (handler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// TestOffAddsNothing: tracing off, every filter is the handler it was
// given, and no trace context is written.
func TestOffAddsNothing(t *testing.T) {
	var tr *tracing.Tracer
	tr, err := tracing.New(context.Background(), tracing.Options{})
	if err != nil || tr != nil {
		t.Fatalf("New without an endpoint: %v, %v; want nil, nil", tr, err)
	}
	next := handler{"next"}
	for name, got := range map[string]http.Handler{
		"WithServerSpan":  tr.WithServerSpan(next, nil),
		"WithIdentity":    tr.WithIdentity(next),
		"WithPropagation": tr.WithPropagation(next),
		"Step":            tr.Step("x", pass, next),
	} {
		if got != http.Handler(next) {
			t.Errorf("%s added a handler: %T", name, got)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	tr.StartForward(req, "c-abcde", "cluster")(200, nil)
	if len(req.Header) != 0 {
		t.Errorf("headers written: %v", req.Header)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"},
		{"https://collector.example:4318/", "https://collector.example:4318/v1/traces"},
		{"https://collector.example/otlp/v1/traces", "https://collector.example/otlp/v1/traces"},
		{"grpc://127.0.0.1:4317", ""},
		{"127.0.0.1:4318", ""},
		{"http://user:secret@127.0.0.1:4318", ""},
		{"http://127.0.0.1:4318/v1/traces?x=1", ""},
		{"http://", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := tracing.ParseEndpoint(tc.in)
			got := ""
			if err == nil {
				got = u.String()
			}
			if got != tc.want {
				t.Errorf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

var _ sdktrace.SpanExporter = keep{}

// discard is an exporter that drops everything.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkChain: what the spans of one proxied request cost (six steps,
// the request span and the forward), tracing off and on.
func BenchmarkChain(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		var tr *tracing.Tracer
		if on {
			name = "on"
			var err error
			if tr, err = tracing.New(context.Background(), tracing.Options{Exporter: discard{}, SampleRatio: 1}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tr.StartForward(r, "c-abcde", "cluster")(200, nil)
				w.WriteHeader(200)
			})
			for _, s := range []string{"credential", "nested", "session", "relay", "access", "authn"} {
				h = tr.Step(s, pass, h)
			}
			h = withInfo(tr.WithServerSpan(h, nil))
			req := httptest.NewRequest(http.MethodGet, "/k8s/clusters/c-abcde/api/v1/namespaces/ns/pods/p", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
		tr.Shutdown(context.Background())
	}
}
