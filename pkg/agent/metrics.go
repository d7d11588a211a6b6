package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the agent's metrics, on a registry of its own.
type Metrics struct {
	registry *prometheus.Registry
	// Connects counts tunnel connections made; Connected is 1 while one is open.
	Connects  prometheus.Counter
	Connected prometheus.Gauge
	// Dials counts streams the server asked for, by result (ok, refused, error).
	Dials *prometheus.CounterVec
	// Refusals counts tunnels the server refused, by HTTP status.
	Refusals *prometheus.CounterVec
}

// NewMetrics registers the agent's metrics on a fresh registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		registry:  r,
		Connects:  prometheus.NewCounter(prometheus.CounterOpts{Name: "drover_agent_connects_total", Help: "Tunnel connections made."}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "drover_agent_connected", Help: "1 while a tunnel is open."}),
		Dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_agent_dials_total", Help: "Streams the server asked the agent to open, by result.",
		}, []string{"result"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_agent_refusals_total", Help: "Tunnels the server refused to open, by HTTP status (401: a registration token that is not valid).",
		}, []string{"code"}),
	}
	r.MustRegister(m.Connects, m.Connected, m.Dials, m.Refusals)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
