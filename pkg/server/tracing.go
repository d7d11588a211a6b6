package server

import (
	"context"
	"time"

	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/tracing"
)

// startTracing starts the traces cfg asks for (nil without an endpoint);
// stop sends what is queued, waiting at most 5 s.
func startTracing(ctx context.Context, cfg Config) (tr *tracing.Tracer, stop func(), err error) {
	tr, err = tracing.New(ctx, cfg.Tracing)
	if err != nil {
		return nil, nil, err
	}
	return tr, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			cfg.Logger.Warn("traces not all sent", "err", err)
		}
	}, nil
}

// forwardTracer is tr for the proxy, or nil (an interface holding a nil
// *Tracer would still be called on every request).
func forwardTracer(tr *tracing.Tracer) authproxy.ForwardTracer {
	if tr == nil {
		return nil
	}
	return tr
}
