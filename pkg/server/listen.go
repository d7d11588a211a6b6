package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/drover-dev/drover/pkg/metrics"
)

// listeners are the server's sockets, bound before anything else happens:
// an address in use is reported before the data directory is made, the
// store opened or the bootstrap password printed.
type listeners struct {
	main    net.Listener
	metrics net.Listener // nil: no --metrics-listen
}

// bind listens on cfg.Listen and, when set, cfg.MetricsListen; on an error
// nothing stays open.
func bind(cfg Config) (*listeners, error) {
	main, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	l := &listeners{main: main}
	if cfg.MetricsListen != "" {
		if l.metrics, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			main.Close()
			return nil, fmt.Errorf("metrics listener on %s: %w", cfg.MetricsListen, err)
		}
	}
	return l, nil
}

// close closes what was not handed to a server yet; closing twice is
// harmless.
func (l *listeners) close() {
	l.main.Close()
	if l.metrics != nil {
		l.metrics.Close()
	}
}

// serveMetrics serves /metrics on ln.
func serveMetrics(ln net.Listener, m *metrics.Server, logger *slog.Logger) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String())
	return func() { srv.Close() }
}
