package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server holds the server's metrics.
type Server struct {
	registry *prometheus.Registry

	// Sessions is the number of live tunnel sessions by agent kind.
	Sessions *prometheus.GaugeVec
	// Connects counts agent connections by cluster and kind; more than one
	// per agent means reconnects.
	Connects *prometheus.CounterVec
	// Disconnects counts ended sessions by cluster, kind and reason.
	Disconnects *prometheus.CounterVec
	// Dials counts streams opened through tunnels by cluster and the kind
	// of agent that carried them.
	Dials *prometheus.CounterVec
	// Failovers counts requests a node agent carried because no cluster
	// agent was connected.
	Failovers *prometheus.CounterVec
	// Requests counts proxied requests by cluster, verb, code and path kind.
	Requests *prometheus.CounterVec
	// Latency is proxied request latency by cluster and verb (time to the
	// end of the response; watches count until they end).
	Latency *prometheus.HistogramVec
	// Bytes counts proxied body bytes by direction (in: from the client).
	Bytes *prometheus.CounterVec
	// Connections is the number of open connections by pool: "ordinary"
	// or "agent" (package connlimit).
	Connections *prometheus.GaugeVec
	// ConnectionsRefused counts connections closed at accept, or agents
	// refused, by the cap that refused them: "total", "address" or
	// "agents".
	ConnectionsRefused *prometheus.CounterVec

	// APIRequests counts calls of Drover's own API by route (the route's
	// template, e.g. /v3/clusters/{id}), method and code; APILatency is
	// their latency by route and method.
	APIRequests *prometheus.CounterVec
	APILatency  *prometheus.HistogramVec
	// Logins counts login attempts by kind (password, redirect) and
	// result (ok, refused, limited, invalid, error).
	Logins *prometheus.CounterVec

	// Controllers is the number of running cluster controllers.
	Controllers prometheus.Gauge
	// ControllerPass is how long one pass of a cluster controller's loop
	// takes (status, bindings, tokens, repairs).
	ControllerPass prometheus.Histogram
	// ControllerErrors counts failed controller steps by step.
	ControllerErrors *prometheus.CounterVec
	// APIServerReady is each connected cluster's apiserver /readyz as the
	// controller last saw it (1 ready, 0 not); Nodes is its node count by
	// readiness. Both are removed when the cluster's controller stops.
	APIServerReady *prometheus.GaugeVec
	Nodes          *prometheus.GaugeVec

	// Relayed counts kubectl requests relayed between server replicas by
	// direction: "out" (sent to the replica holding the cluster's tunnel)
	// or "in" (served for a peer); LiveReplicas is how many replicas this
	// one sees beating, itself included.
	Relayed      *prometheus.CounterVec
	LiveReplicas prometheus.Gauge

	// AgentRollouts counts agent roll-outs by result (started, succeeded,
	// rolled_back); AgentRolloutsInFlight is how many this server has in
	// flight; AgentOutdated is 1 for a connected cluster whose agents do
	// not run the image the server ships (waiting, rolling, rolled back,
	// or failing), 0 when they do; not set while roll-out is off (package
	// rollout).
	AgentRollouts         *prometheus.CounterVec
	AgentRolloutsInFlight prometheus.Gauge
	AgentOutdated         *prometheus.GaugeVec
}

// NewServer registers the server's metrics and the Go runtime collectors on
// a fresh registry.
func NewServer() *Server {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Server{
		registry: r,
		Sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drover_tunnel_sessions", Help: "Live agent tunnel sessions.",
		}, []string{"kind"}),
		Connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_tunnel_connects_total", Help: "Agent tunnel connections accepted.",
		}, []string{"cluster", "kind"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_tunnel_disconnects_total", Help: "Agent tunnel sessions ended.",
		}, []string{"cluster", "kind", "reason"}),
		Dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_tunnel_dials_total", Help: "Streams opened through agent tunnels.",
		}, []string{"cluster", "via"}),
		Failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_proxy_failover_requests_total", Help: "Requests carried by a node agent because no cluster agent was connected.",
		}, []string{"cluster"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_proxy_requests_total", Help: "Requests proxied to downstream clusters.",
		}, []string{"cluster", "verb", "code", "via"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "drover_proxy_request_duration_seconds", Help: "Latency of proxied requests.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"cluster", "verb"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_proxy_bytes_total", Help: "Body bytes proxied, by direction.",
		}, []string{"direction"}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drover_connections", Help: "Open connections by pool (ordinary, agent).",
		}, []string{"pool"}),
		ConnectionsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_connections_refused_total", Help: "Connections refused by a cap (total, address, agents).",
		}, []string{"cap"}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_api_requests_total", Help: "Calls of Drover's API by route template, method and code.",
		}, []string{"route", "method", "code"}),
		APILatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "drover_api_request_duration_seconds", Help: "Latency of Drover's API calls by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_logins_total", Help: "Login attempts by kind (password, redirect) and result (ok, refused, limited, invalid, error).",
		}, []string{"kind", "result"}),
		Controllers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drover_controllers", Help: "Running cluster controllers (one per cluster-agent session).",
		}),
		ControllerPass: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "drover_controller_pass_duration_seconds", Help: "Duration of one pass of a cluster controller's loop.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		ControllerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_controller_errors_total", Help: "Failed cluster controller steps by step.",
		}, []string{"step"}),
		APIServerReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drover_cluster_apiserver_ready", Help: "The cluster's apiserver /readyz as its controller last saw it (1 ready).",
		}, []string{"cluster"}),
		Nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drover_cluster_nodes", Help: "The cluster's nodes by readiness, as its controller last saw them.",
		}, []string{"cluster", "ready"}),
		Relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_replica_relayed_requests_total", Help: "kubectl requests relayed between server replicas, by direction (out: to the replica holding the tunnel; in: served for a peer).",
		}, []string{"direction"}),
		LiveReplicas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drover_replicas_live", Help: "Server replicas beating on the shared database, this one included (0: a single server on SQLite).",
		}),
		AgentRollouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_agent_rollouts_total", Help: "Agent roll-outs by result (started, succeeded, rolled_back).",
		}, []string{"result"}),
		AgentRolloutsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "drover_agent_rollouts_in_flight", Help: "Agent roll-outs this server has in flight.",
		}),
		AgentOutdated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drover_cluster_agent_outdated", Help: "1 when the cluster's agents do not run the image the server ships, as its controller last saw them.",
		}, []string{"cluster"}),
	}
	r.MustRegister(m.Sessions, m.Connects, m.Disconnects, m.Dials, m.Failovers, m.Requests, m.Latency, m.Bytes,
		m.Connections, m.ConnectionsRefused, m.APIRequests, m.APILatency, m.Logins,
		m.Controllers, m.ControllerPass, m.ControllerErrors, m.APIServerReady, m.Nodes, m.Relayed, m.LiveReplicas,
		m.AgentRollouts, m.AgentRolloutsInFlight, m.AgentOutdated)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Server) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// CodeLabel is the label of an HTTP status code: the code for those HTTP
// defines, "other" for anything else (a downstream cluster, or an agent,
// answers whatever it likes; the label set stays fixed).
func CodeLabel(code int) string {
	if http.StatusText(code) == "" {
		return "other"
	}
	return strconv.Itoa(code)
}

// ForgetCluster removes the per-cluster series a cluster's controller set,
// once it stops (the cluster is gone or served by another session).
func (m *Server) ForgetCluster(id string) {
	m.APIServerReady.DeleteLabelValues(id)
	m.Nodes.DeleteLabelValues(id, "true")
	m.Nodes.DeleteLabelValues(id, "false")
	m.AgentOutdated.DeleteLabelValues(id)
}
