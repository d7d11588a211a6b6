package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options configure the traces.
type Options struct {
	// Endpoint is the OTLP/HTTP traces URL (http or https; a URL without
	// a path gets /v1/traces). Empty: tracing is off.
	Endpoint string
	// CAFile holds the CA certificates an https Endpoint is verified
	// with; empty: the system's roots.
	CAFile string
	// SampleRatio is the share of requests traced, in (0, 1]; a request
	// relayed by a peer replica follows the peer's decision.
	SampleRatio float64
	// Service, Version and Instance name the process in every span's
	// resource (service.name, service.version, service.instance.id).
	Service, Version, Instance string
	Logger                     *slog.Logger
	// Exporter replaces the OTLP exporter (tests of this package only).
	Exporter sdktrace.SpanExporter
}

// Tracer makes the spans of the request path. A nil *Tracer is tracing
// turned off: every method does nothing, and the filters it returns are
// the handlers it was given.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// Queue bounds: a slow or absent collector costs dropped spans, never
// memory or a waiting request.
const (
	maxQueue    = 4096
	maxBatch    = 512
	exportEvery = 2 * time.Second
	exportLimit = 10 * time.Second
)

// New returns the Tracer opts describe, or nil when opts.Endpoint is empty.
func New(ctx context.Context, opts Options) (*Tracer, error) {
	if opts.Endpoint == "" && opts.Exporter == nil {
		return nil, nil
	}
	exp := opts.Exporter
	if exp == nil {
		var err error
		if exp, err = otlpExporter(ctx, opts); err != nil {
			return nil, err
		}
	}
	ratio := opts.SampleRatio
	if ratio <= 0 || ratio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is not in (0, 1]", ratio)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", opts.Service),
		attribute.String("service.version", opts.Version),
		attribute.String("service.instance.id", opts.Instance),
	)
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(maxQueue), sdktrace.WithMaxExportBatchSize(maxBatch),
			sdktrace.WithBatchTimeout(exportEvery), sdktrace.WithExportTimeout(exportLimit)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &Tracer{provider: provider, tracer: provider.Tracer("github.com/drover-dev/drover/pkg/tracing")}, nil
}

// otlpExporter is the OTLP/HTTP exporter to opts.Endpoint. Headers (a
// collector's API key) come from the standard OTEL_EXPORTER_OTLP_HEADERS
// or OTEL_EXPORTER_OTLP_TRACES_HEADERS environment variables, never argv.
func otlpExporter(ctx context.Context, opts Options) (sdktrace.SpanExporter, error) {
	u, err := ParseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	eo := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(exportLimit)}
	if u.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("tracing: read the collector's CA: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tracing: %s holds no PEM certificate", opts.CAFile)
			}
		}
		eo = append(eo, otlptracehttp.WithTLSClientConfig(cfg))
	} else {
		eo = append(eo, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(ctx, eo...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}

// ParseEndpoint checks an OTLP/HTTP traces URL and returns it with the
// default path when it has none.
func ParseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tracing: endpoint: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("tracing: the endpoint must be an http or https URL")
	case u.Host == "", u.User != nil, u.RawQuery != "", u.Fragment != "":
		return nil, errors.New("tracing: the endpoint must be scheme://host[:port][/path], without credentials or a query")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u, nil
}

// Shutdown sends the spans still queued, waiting at most until ctx ends.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
