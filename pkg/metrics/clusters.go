package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cluster connection states, the values of drover_cluster_state's state
// label. Exactly one is 1 for each cluster at any scrape.
const (
	StateClusterAgent = "cluster_agent" // served by its cluster agent
	StateNodeAgent    = "node_agent"    // served by a node agent only
	StateDisconnected = "disconnected"  // no agent connected
)

// ClusterState is one cluster's connection state at a scrape.
type ClusterState struct {
	ID string
	// State is StateClusterAgent, StateNodeAgent or StateDisconnected.
	State string
	// DisconnectedFor is, when disconnected, how long since its last
	// session ended (or since it was created, if it never connected).
	DisconnectedFor time.Duration
}

// ClusterStates lists every cluster the server knows with its state.
type ClusterStates func(ctx context.Context) ([]ClusterState, error)

// collectTimeout bounds one scrape's read of the cluster states.
const collectTimeout = 5 * time.Second

var (
	stateDesc = prometheus.NewDesc("drover_cluster_state",
		"Connection state of each cluster: 1 for its current state (cluster_agent, node_agent, disconnected), 0 for the others.",
		[]string{"cluster", "state"}, nil)
	disconnectedDesc = prometheus.NewDesc("drover_cluster_disconnected_seconds",
		"Seconds since the cluster's last agent session ended (since it was created if it never connected); 0 while connected.",
		[]string{"cluster"}, nil)
)

type clusterCollector struct{ states ClusterStates }

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stateDesc
	ch <- disconnectedDesc
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	states, err := c.states(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stateDesc, err)
		return
	}
	for _, s := range states {
		for _, st := range []string{StateClusterAgent, StateNodeAgent, StateDisconnected} {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, s.ID, st)
		}
		ch <- prometheus.MustNewConstMetric(disconnectedDesc, prometheus.GaugeValue, s.DisconnectedFor.Seconds(), s.ID)
	}
}

// WatchClusters registers the per-cluster state gauges, read from states
// at each scrape (so a cluster that never connected, or was deleted, is
// right without anyone keeping series up to date). Call it once.
func (m *Server) WatchClusters(states ClusterStates) {
	m.registry.MustRegister(clusterCollector{states: states})
}

var (
	dbOpenDesc = prometheus.NewDesc("drover_store_connections", "Store connections by state (in_use, idle).", []string{"state"}, nil)
	dbWaitDesc = prometheus.NewDesc("drover_store_wait_total", "Store operations that waited for a free connection.", nil, nil)
	dbWaitDur  = prometheus.NewDesc("drover_store_wait_seconds_total", "Time store operations waited for a free connection.", nil, nil)
)

type dbCollector struct{ stats func() sql.DBStats }

func (c dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbOpenDesc
	ch <- dbWaitDesc
	ch <- dbWaitDur
}

func (c dbCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(dbOpenDesc, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(dbOpenDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(dbWaitDesc, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(dbWaitDur, prometheus.CounterValue, s.WaitDuration.Seconds())
}

// WatchStore registers the store's connection pool figures, read at each
// scrape. Call it once.
func (m *Server) WatchStore(stats func() sql.DBStats) {
	m.registry.MustRegister(dbCollector{stats: stats})
}
