package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// maxRefusals bounds the refusal notes kept (one per cluster id that a
// valid registration token named, so bounded by clusters anyway).
const maxRefusals = 10_000

// checkEndpoint enforces that node agents carry bytes, never trust: a
// cluster agent's reported apiserver endpoint and CA are recorded (in the
// store, so they survive a restart); a node agent is admitted only when it
// reports exactly the recorded endpoint and CA bundle, and never before a
// cluster agent reported one. It returns the HTTP code of a refusal.
func (s *Server) checkEndpoint(ctx context.Context, clusterID string, p agentapi.AgentParams) (int, error) {
	reported := endpoint{addr: p.Endpoint, ca: string(p.CACert)}
	if p.Kind == agentapi.KindCluster {
		s.mu.Lock()
		rec, known := s.endpoints[clusterID]
		s.mu.Unlock()
		if !known || rec != reported {
			if err := s.opts.Store.SetAgentEndpoint(ctx, clusterID, p.Endpoint, p.CACert); err != nil {
				s.opts.Logger.Error("record the cluster agent's endpoint", "cluster", clusterID, "err", err)
				return http.StatusInternalServerError, errors.New("internal error; the server log has the details")
			}
			if known {
				s.opts.Logger.Info("cluster agent reported a new apiserver endpoint or CA; node agents of the old one are no longer used",
					"cluster", clusterID, "endpoint", p.Endpoint)
			}
		}
		s.mu.Lock()
		s.endpoints[clusterID] = reported
		delete(s.refused, clusterID)
		s.mu.Unlock()
		return 0, nil
	}
	rec, known, err := s.recordedEndpoint(ctx, clusterID)
	if err != nil {
		s.opts.Logger.Error("read the cluster agent's endpoint", "cluster", clusterID, "err", err)
		return http.StatusInternalServerError, errors.New("internal error; the server log has the details")
	}
	switch {
	case !known:
		return http.StatusConflict, errors.New("no cluster agent has reported this cluster's apiserver yet; " +
			"node agents carry traffic only to the endpoint a cluster agent reported")
	case rec.addr != reported.addr:
		return http.StatusForbidden, fmt.Errorf("node agent reports apiserver %s, the cluster agent reported another; refused", p.Endpoint)
	case rec.ca != reported.ca:
		return http.StatusForbidden, errors.New("node agent reports another apiserver CA than the cluster agent; refused")
	}
	return 0, nil
}

// recordedEndpoint returns the cluster agent's endpoint, from memory or
// the store.
func (s *Server) recordedEndpoint(ctx context.Context, clusterID string) (endpoint, bool, error) {
	s.mu.Lock()
	rec, ok := s.endpoints[clusterID]
	s.mu.Unlock()
	if ok {
		return rec, true, nil
	}
	c, err := s.opts.Store.Cluster(ctx, clusterID)
	if err != nil {
		return endpoint{}, false, err
	}
	if c.AgentEndpoint == "" {
		return endpoint{}, false, nil
	}
	rec = endpoint{addr: c.AgentEndpoint, ca: c.AgentCA}
	s.mu.Lock()
	if _, set := s.endpoints[clusterID]; !set {
		s.endpoints[clusterID] = rec
	}
	s.mu.Unlock()
	return rec, true, nil
}

// noteRefusal remembers why a cluster's agent was refused, for its status.
func (s *Server) noteRefusal(clusterID, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.refused) >= maxRefusals {
		clear(s.refused)
	}
	s.refused[clusterID] = why
}
