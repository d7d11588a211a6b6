package e2e

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver takes OTLP/HTTP trace exports (protobuf) as a collector
// does and keeps their spans.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	service  string
	requests int
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests++
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				o.service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// trace returns the spans of the first trace whose root span is named
// root and has attribute key=value.
func (o *otlpReceiver) trace(root, key, value string) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		if s.Name != root || len(s.ParentSpanId) != 0 || spanAttr(s, key) != value {
			continue
		}
		var out []*tracepb.Span
		for _, c := range o.spans {
			if string(c.TraceId) == string(s.TraceId) {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return anyValue(kv.Value)
		}
	}
	return ""
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	}
	return ""
}

// TestTraces: with --trace-endpoint, a kubectl call through a real agent
// reaches a collector over OTLP/HTTP as one trace: the request's span,
// one span per step of the chain, and the forward through the tunnel,
// whose context went on to the apiserver; a refused call's trace says
// which step answered; no span carries a credential. (Tracing off adds
// nothing to the chain: pkg/tracing TestOffAddsNothing.)
func TestTraces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	own := startOwnServer(ctx, t, t.TempDir(), "traced", "--trace-endpoint", collector.URL, "--trace-sample-ratio", "1")

	kc, err := own.srv.Kubeconfig(ctx, own.admin, []string{own.id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(ctx, t, path, "get", "namespaces", "-o", "name"); err != nil {
		t.Fatal(err)
	}
	// A call with a token that is no one's: refused at authentication.
	bad := strings.Replace(string(kc), "token: ", "token: t-nosuchtoken:", 1)
	badPath := filepath.Join(t.TempDir(), "bad-kubeconfig")
	if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(ctx, t, badPath, "get", "pods", "-n", "refused-here"); err == nil {
		t.Fatal("a token that is no one's was accepted")
	}

	var ok, refused []*tracepb.Span
	for ctx.Err() == nil && (ok == nil || refused == nil) {
		time.Sleep(200 * time.Millisecond) // the exporter sends every 2 s
		ok = recv.trace("drover proxy list", "drover.k8s.resource", "namespaces")
		refused = recv.trace("drover proxy list", "drover.k8s.namespace", "refused-here")
	}
	if ok == nil || refused == nil {
		t.Fatalf("no trace of the calls reached the collector (%d exports, %d spans)", recv.requests, len(recv.spans))
	}
	if recv.service != "drover-server" {
		t.Errorf("service.name %q", recv.service)
	}

	names := func(spans []*tracepb.Span) map[string]*tracepb.Span {
		m := map[string]*tracepb.Span{}
		for _, s := range spans {
			m[s.Name] = s
		}
		return m
	}
	m := names(ok)
	root := m["drover proxy list"]
	for _, step := range []string{"drover authn", "drover access", "drover session", "drover nested", "drover credential", "drover forward"} {
		s, found := m[step]
		if !found {
			t.Errorf("no %q span in the trace; got %v", step, keys(m))
			continue
		}
		if string(s.ParentSpanId) != string(root.SpanId) {
			t.Errorf("%s: parent %s, want the request span %s", step, hex.EncodeToString(s.ParentSpanId), hex.EncodeToString(root.SpanId))
		}
		if s.StartTimeUnixNano < root.StartTimeUnixNano || s.EndTimeUnixNano > root.EndTimeUnixNano {
			t.Errorf("%s lies outside the request span", step)
		}
	}
	for k, want := range map[string]string{"drover.cluster.id": own.id, "http.response.status_code": "200", "drover.k8s.verb": "list"} {
		if got := spanAttr(root, k); got != want {
			t.Errorf("request span %s = %q, want %q", k, got, want)
		}
	}
	if spanAttr(root, "drover.user.id") == "" {
		t.Error("the request span does not say whose it is")
	}
	if fwd := m["drover forward"]; fwd != nil {
		if got := spanAttr(fwd, "drover.tunnel.via"); got != "cluster" {
			t.Errorf("forward via %q, want cluster", got)
		}
		if fwd.Kind != tracepb.Span_SPAN_KIND_CLIENT || spanAttr(fwd, "http.response.status_code") != "200" {
			t.Errorf("forward span: kind %v, status %q", fwd.Kind, spanAttr(fwd, "http.response.status_code"))
		}
	}

	r := names(refused)
	if got := spanAttr(r["drover proxy list"], "http.response.status_code"); got != "401" {
		t.Errorf("refused call's status %q, want 401", got)
	}
	if got := spanAttr(r["drover authn"], "drover.step.answered"); got != "true" {
		t.Errorf("the authn step of the refused call: answered %q, want true", got)
	}
	if _, found := r["drover forward"]; found {
		t.Error("a refused call was forwarded")
	}

	// No credential in any span: not the admin's session, not the
	// kubeconfig's token.
	secrets := []string{own.admin, strings.TrimSpace(between(string(kc), "token: ", "\n"))}
	recv.mu.Lock()
	for _, s := range recv.spans {
		for _, kv := range s.Attributes {
			v := anyValue(kv.Value)
			for _, secret := range secrets {
				if _, tail, _ := strings.Cut(secret, ":"); tail != "" && strings.Contains(v, tail) {
					t.Errorf("span %s attribute %s carries a credential", s.Name, kv.Key)
				}
			}
		}
	}
	recv.mu.Unlock()
}

func keys(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
