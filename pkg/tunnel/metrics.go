package tunnel

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/metrics"
)

// clusterStates is every cluster's connection state, read by the metrics
// at each scrape: what an operator alerts on ("disconnected for more than
// five minutes", "served by a node agent only").
func (s *Server) clusterStates(ctx context.Context) ([]metrics.ClusterState, error) {
	clusters, err := s.opts.Store.ListClusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	now := s.opts.Now()
	out := make([]metrics.ClusterState, 0, len(clusters))
	for _, c := range clusters {
		st := s.Status(c.ID)
		cs := metrics.ClusterState{ID: c.ID, State: metrics.StateDisconnected}
		switch {
		case st.Connected && st.Via == agentapi.KindCluster:
			cs.State = metrics.StateClusterAgent
		case st.Connected:
			cs.State = metrics.StateNodeAgent
		case st.DisconnectedAt != nil:
			cs.DisconnectedFor = now.Sub(*st.DisconnectedAt)
		default:
			// Never seen by this process: down since it started, or
			// since the cluster was created if that is later.
			since := s.started
			if c.CreatedAt.After(since) {
				since = c.CreatedAt
			}
			cs.DisconnectedFor = now.Sub(since)
		}
		out = append(out, cs)
	}
	return out, nil
}
