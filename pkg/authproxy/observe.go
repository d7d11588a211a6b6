package authproxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/request"
)

// countingBody counts request body bytes.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// observe records metrics and a debug log line for one proxied request.
func (p *Proxy) observe(rec *request.Recorder, r *http.Request, in *countingBody, req *request.Info, t *target, start time.Time) {
	sess := t.session
	info := req.Kube
	code := rec.Status(r)
	via := sess.Params.Kind
	elapsed := time.Since(start)
	m := p.opts.Metrics
	m.Requests.WithLabelValues(sess.ClusterID, info.Verb, metrics.CodeLabel(code), via).Inc()
	m.Latency.WithLabelValues(sess.ClusterID, info.Verb).Observe(elapsed.Seconds())
	m.Bytes.WithLabelValues("out").Add(float64(rec.Bytes()))
	if in != nil {
		m.Bytes.WithLabelValues("in").Add(float64(in.n.Load()))
	}
	if via == agentapi.KindNode {
		m.Failovers.WithLabelValues(sess.ClusterID).Inc()
	}
	if !p.opts.Logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"cluster", sess.ClusterID, "via", via, "node", sess.Params.Node,
		"verb", info.Verb, "resource", info.Resource, "namespace", info.Namespace, "code", code,
		"bytes", rec.Bytes(), "duration", elapsed}
	if info.Subresource != "" {
		attrs = append(attrs, "subresource", info.Subresource)
	}
	if t.upgrade != "" {
		// The protocol the client asked for (websocket or SPDY/3.1): with
		// the code, it tells whether kubectl fell back from one to the other.
		attrs = append(attrs, "upgrade", t.upgrade)
	}
	if t.nested {
		attrs = append(attrs, "as", t.identity.User, "as_groups", t.identity.Groups)
	}
	p.opts.Logger.Debug("proxied", attrs...)
}
