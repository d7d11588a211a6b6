package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/controller"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/ratelimit"
	"github.com/drover-dev/drover/pkg/replica"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/session"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
	"github.com/drover-dev/drover/pkg/version"
)

// replicas is what a server on a shared database (PostgreSQL) does to
// serve as one of several: it is nil for a server on SQLite, which is
// alone by construction.
type replicas struct {
	reg    *replica.Registry
	index  *replica.Index
	relay  *replica.Relay
	bus    *replica.Bus
	leases *replica.Leases
}

// joinService makes this server's identity the service's before anything
// uses it (package replica): the secrets key must be the others', the CA
// is the shared one (installed in the data directory's tls/), and the
// session keys live in the database. It returns the session options and
// the hostnames the serving certificate needs (the peer URL's host too).
func joinService(ctx context.Context, cfg Config, st *store.Store, sealer *seal.Sealer, sessions *session.Options) ([]string, error) {
	hosts := cfg.Hostnames
	if cfg.Database.URL == "" {
		return hosts, nil
	}
	if err := replica.CheckSecretsKey(ctx, st, sealer, cfg.Now()); err != nil {
		return nil, err
	}
	if cfg.TLS.Cert == "" {
		if err := replica.ShareCA(ctx, st, sealer, filepath.Join(cfg.DataDir, "tls"), cfg.Now()); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	sessions.Shared = replica.SessionKeys{Ctx: ctx, Store: st, Sealer: sealer, Now: cfg.Now}
	if u, err := url.Parse(cfg.PeerURL); err == nil && u.Hostname() != "" {
		hosts = append(append([]string{}, hosts...), u.Hostname())
	}
	return hosts, nil
}

// startReplica registers the server as a replica, records its tunnels and
// relays requests for clusters whose tunnels another replica holds; nil
// for a server on SQLite.
func startReplica(ctx context.Context, cfg Config, st *store.Store, tun *tunnel.Server, mat *pki.Material, m *metrics.Server) (*replicas, error) {
	if cfg.Database.URL == "" {
		return nil, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := replica.CheckCA(cctx, st, mat.CAPEM, replica.DefaultDead, cfg.Now(), cfg.Logger)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	reg, err := replica.New(replica.Options{Store: st, Logger: cfg.Logger, URL: cfg.PeerURL, Version: version.Get().Version,
		Metrics: m})
	if err != nil {
		return nil, err
	}
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := reg.Join(jctx); err != nil {
		return nil, err
	}
	idx := replica.NewIndex(reg, tun, st, cfg.Logger)
	relay, err := replica.NewRelay(replica.RelayOptions{Registry: reg, Index: idx, Logger: cfg.Logger, Metrics: m, CAPEM: mat.TrustPEM})
	if err != nil {
		return nil, err
	}
	go reg.Run(ctx)
	go idx.Run(ctx)
	cfg.Logger.Info("joined the server replicas on the database", "replica", reg.ID(), "peer_url", cfg.PeerURL,
		"live", len(reg.Live())+1)
	return &replicas{reg: reg, index: idx, relay: relay, leases: replica.NewLeases(st, reg, cfg.Logger)}, nil
}

// controllerLeases make each cluster's controller run on one replica;
// nil alone.
func (r *replicas) controllerLeases() controller.Leases {
	if r == nil {
		return nil
	}
	return r.leases
}

// once runs f on one replica at a time (the holder of the named lease),
// until ctx ends; alone, it just runs f.
func (r *replicas) once(ctx context.Context, name string, f func(context.Context)) {
	if r == nil {
		f(ctx)
		return
	}
	r.leases.RunExclusive(ctx, name, f)
}

// listen starts applying the other replicas' events here and returns the
// bus that tells them this one's; nil alone.
func (r *replicas) listen(ctx context.Context, st *store.Store, apply replica.Apply, logger *slog.Logger) *replica.Bus {
	if r == nil {
		return nil
	}
	r.bus = replica.NewBus(st, r.reg, apply, logger)
	go r.bus.Run(ctx)
	return r.bus
}

// tunnels is what the API reports of clusters' tunnels: across replicas,
// or this server's own.
func (r *replicas) tunnels(tun *tunnel.Server) api.Tunnels {
	if r == nil {
		return tun
	}
	return allTunnels{r}
}

// allTunnels is the clusters' tunnels on every replica.
type allTunnels struct{ r *replicas }

func (a allTunnels) Status(clusterID string) tunnel.Status { return a.r.index.Status(clusterID) }

// CloseCluster closes a deleted cluster's tunnels here and tells the
// other replicas to close theirs.
func (a allTunnels) CloseCluster(clusterID string) int {
	n := a.r.index.CloseCluster(clusterID)
	if a.r.bus != nil {
		a.r.bus.ClusterRemoved(clusterID)
	}
	return n
}

// relayer is the chain's relay between replicas; nil alone.
func (r *replicas) relayer() chain.Relayer {
	if r == nil {
		return nil
	}
	return r.relay
}

// spent is where redirect logins' states and the drover command's codes
// are spent: the database replicas share; nil alone (this process).
func (r *replicas) spent(st *store.Store) registry.Spent {
	if r == nil {
		return nil
	}
	return st
}

// loginLimit is a login rate limit counted once for all replicas; nil
// alone (the API's own, in memory).
func (r *replicas) loginLimit(st *store.Store, name string, burst int, logger *slog.Logger) api.LoginLimiter {
	if r == nil {
		return nil
	}
	return ratelimit.NewShared(st, name, burst, time.Minute, logger)
}

// drainDelay is how long a replica on its way out answers /readyz 503
// before it lets its agents go: load balancers check readiness every
// second or so (HAProxy's check above: 500 ms, two failures), and agents
// that reconnect must not land on it again.
const drainDelay = 3 * time.Second

// drain hands a stopping replica's work to the others: /readyz says 503
// (so the load balancer sends nobody more), then the replica leaves the
// database (its peers stop relaying to it) and closes its agents' tunnels
// (they reconnect through the load balancer to a live replica); the
// server then finishes the requests it has. Alone, it does nothing.
func (r *replicas) drain(draining *atomic.Bool, tun *tunnel.Server, logger *slog.Logger) {
	if r == nil {
		return
	}
	draining.Store(true)
	logger.Info("draining: /readyz answers 503; the agents move to the other replicas next", "after", drainDelay)
	time.Sleep(drainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.reg.Leave(ctx); err != nil {
		logger.Warn("leave the replicas", "err", err)
	}
	n := 0
	for _, id := range tun.Clusters() {
		n += tun.CloseCluster(id)
	}
	logger.Info("drained: closed the agents' tunnels", "tunnels", n)
}
