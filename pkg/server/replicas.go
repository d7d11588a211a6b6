package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/metrics"
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
	reg   *replica.Registry
	index *replica.Index
	relay *replica.Relay
	bus   *replica.Bus
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
func startReplica(ctx context.Context, cfg Config, st *store.Store, tun *tunnel.Server, caPEM []byte, m *metrics.Server) (*replicas, error) {
	if cfg.Database.URL == "" {
		return nil, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := replica.CheckCA(cctx, st, caPEM, replica.DefaultDead, cfg.Now(), cfg.Logger)
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
	relay, err := replica.NewRelay(replica.RelayOptions{Registry: reg, Index: idx, Logger: cfg.Logger, Metrics: m, CAPEM: caPEM})
	if err != nil {
		return nil, err
	}
	go reg.Run(ctx)
	go idx.Run(ctx)
	cfg.Logger.Info("joined the server replicas on the database", "replica", reg.ID(), "peer_url", cfg.PeerURL,
		"live", len(reg.Live())+1)
	return &replicas{reg: reg, index: idx, relay: relay}, nil
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
