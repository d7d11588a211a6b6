package replica

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// Local is this replica's tunnel server.
type Local interface {
	Holding(clusterID string) map[string]tunnel.Held
	Clusters() []string
	Status(clusterID string) tunnel.Status
	CloseCluster(clusterID string) int
}

// holdersTTL is how long a lookup of a cluster's remote tunnels is reused:
// a tunnel that moved is found within it.
const holdersTTL = 500 * time.Millisecond

// maxCached bounds the lookup cache (the keys are clusters that exist and
// the caller may reach, but a bound costs nothing).
const maxCached = 50000

// Index records which of this replica's clusters have tunnels here, and
// finds the replica holding a cluster's tunnels.
type Index struct {
	reg   *Registry
	local Local
	st    Store
	log   *slog.Logger

	wake chan struct{}

	mu     sync.Mutex
	dirty  map[string]struct{}
	cached map[string]holders
}

type holders struct {
	list []store.TunnelHolder // other live replicas, best first
	at   time.Time
}

// NewIndex returns an Index for reg's replica and its tunnel server.
func NewIndex(reg *Registry, local Local, st Store, logger *slog.Logger) *Index {
	x := &Index{reg: reg, local: local, st: st, log: logger, wake: make(chan struct{}, 1),
		dirty: map[string]struct{}{}, cached: map[string]holders{}}
	reg.OnRejoin(func(context.Context) { x.markAll() })
	return x
}

// Changed marks a cluster's tunnels as changed here (tunnel.Options.Changed);
// Run writes them. It never blocks.
func (x *Index) Changed(clusterID string) {
	x.mu.Lock()
	x.dirty[clusterID] = struct{}{}
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *Index) markAll() {
	for _, id := range x.local.Clusters() {
		x.Changed(id)
	}
}

// Run clears what an earlier process of this replica recorded, then writes
// every change until ctx ends. Failed writes are retried.
func (x *Index) Run(ctx context.Context) {
	if err := x.st.ClearTunnels(ctx, x.reg.ID()); err != nil && ctx.Err() == nil {
		x.log.Warn("clear this replica's tunnel records", "err", err)
	}
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.wake:
		case <-retry.C:
		}
		x.mu.Lock()
		batch := x.dirty
		x.dirty = map[string]struct{}{}
		x.mu.Unlock()
		for id := range batch {
			if err := x.write(ctx, id); err != nil {
				if ctx.Err() != nil {
					return
				}
				x.log.Warn("record this replica's tunnels", "cluster", id, "err", err)
				x.mu.Lock()
				x.dirty[id] = struct{}{}
				x.mu.Unlock()
			}
		}
	}
}

func (x *Index) write(ctx context.Context, clusterID string) error {
	held := x.local.Holding(clusterID)
	for _, kind := range []string{agentapi.KindCluster, agentapi.KindNode} {
		h := held[kind]
		if err := x.st.SetTunnels(ctx, x.reg.ID(), clusterID, kind, h.Sessions, h.Since); err != nil {
			return err
		}
	}
	return nil
}

// Remote returns the other live replicas holding the cluster's tunnels,
// cluster agents first.
func (x *Index) Remote(ctx context.Context, clusterID string) ([]store.TunnelHolder, error) {
	x.mu.Lock()
	c, ok := x.cached[clusterID]
	x.mu.Unlock()
	if ok && time.Since(c.at) < holdersTTL {
		return c.list, nil
	}
	all, err := x.st.TunnelHolders(ctx, clusterID, x.reg.opts.Dead)
	if err != nil {
		return nil, err
	}
	list := make([]store.TunnelHolder, 0, len(all))
	for _, h := range all {
		if h.ReplicaID != x.reg.ID() {
			list = append(list, h)
		}
	}
	x.mu.Lock()
	if len(x.cached) >= maxCached {
		clear(x.cached)
	}
	x.cached[clusterID] = holders{list: list, at: time.Now()}
	x.mu.Unlock()
	return list, nil
}

// route says where a request for the cluster goes: "" for here, or the
// holder to relay to. A cluster agent's tunnel beats a node agent's, and
// here beats a peer for the same kind.
func (x *Index) route(ctx context.Context, clusterID string) (store.TunnelHolder, bool, error) {
	held := x.local.Holding(clusterID)
	if held[agentapi.KindCluster].Sessions > 0 {
		return store.TunnelHolder{}, false, nil
	}
	remote, err := x.Remote(ctx, clusterID)
	if err != nil {
		return store.TunnelHolder{}, false, err
	}
	for _, kind := range []string{agentapi.KindCluster, agentapi.KindNode} {
		if kind == agentapi.KindNode && held[kind].Sessions > 0 {
			return store.TunnelHolder{}, false, nil
		}
		for _, h := range remote {
			if h.Kind == kind {
				return h, true, nil
			}
		}
	}
	return store.TunnelHolder{}, false, nil
}

// Status is the cluster's connection state across replicas, as the relay
// routes: a cluster agent's tunnel (here, else a peer's) before a node
// agent's (here, else a peer's).
func (x *Index) Status(clusterID string) tunnel.Status {
	st := x.local.Status(clusterID)
	if st.Connected && st.Via == agentapi.KindCluster {
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	remote, err := x.Remote(ctx, clusterID)
	if err != nil || len(remote) == 0 || (st.Connected && remote[0].Kind != agentapi.KindCluster) {
		return st
	}
	since := remote[0].ConnectedAt
	out := tunnel.Status{Connected: true, Via: remote[0].Kind, Since: &since, Refused: st.Refused, Sessions: st.Sessions,
		ClusterAgents: st.ClusterAgents, NodeAgents: st.NodeAgents}
	for _, h := range remote {
		out.Sessions += h.Sessions
		out.Count(h.Kind, h.Sessions)
	}
	return out
}

// CloseCluster closes this replica's tunnels of a deleted cluster; the
// others' close when their tunnel servers find the registration gone.
func (x *Index) CloseCluster(clusterID string) int { return x.local.CloseCluster(clusterID) }
