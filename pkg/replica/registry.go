package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

// Store is what replicas keep in the database.
type Store interface {
	RegisterReplica(ctx context.Context, r store.Replica) error
	Heartbeat(ctx context.Context, id string) error
	LiveReplicas(ctx context.Context, window time.Duration) ([]store.Replica, error)
	ForgetReplicas(ctx context.Context, after time.Duration) ([]string, error)
	RemoveReplica(ctx context.Context, id string) error
	SetTunnels(ctx context.Context, replicaID, clusterID, kind string, sessions int, connectedAt time.Time) error
	ClearTunnels(ctx context.Context, replicaID string) error
	TunnelHolders(ctx context.Context, clusterID string, window time.Duration) ([]store.TunnelHolder, error)
}

// Options configure a Registry.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// URL is where peers reach this replica (https; its host must be in
	// the serving certificate).
	URL     string
	Version string
	// Beat is how often the replica beats (default 1s); a replica whose
	// last beat is older than Dead (default 5s) is not live: it is not
	// relayed to, and its peers forget it.
	Beat, Dead time.Duration
	// Metrics gets the number of live replicas; nil: none.
	Metrics *metrics.Server
}

// The defaults of Options.Beat and Options.Dead (5 beats).
const (
	DefaultBeat = time.Second
	DefaultDead = 5 * DefaultBeat
)

// Registry is this replica's membership in the set of replicas.
type Registry struct {
	opts   Options
	self   token.Token // ID is the replica's id; Secret its peer credential
	hashed token.Hashed

	mu      sync.Mutex
	live    map[string]store.Replica // by id, as of liveAt
	liveAt  time.Time
	missAt  time.Time                   // when an unknown peer last made it read them again
	rejoins []func(ctx context.Context) // called after registering again
}

// New makes this replica's identity: a fresh id and peer credential per
// process.
func New(opts Options) (*Registry, error) {
	if opts.Beat <= 0 {
		opts.Beat = DefaultBeat
	}
	if opts.Dead <= opts.Beat {
		opts.Dead = 5 * opts.Beat
	}
	self, err := token.New(ids.Replica)
	if err != nil {
		return nil, err
	}
	h, err := token.Hash(self)
	if err != nil {
		return nil, err
	}
	return &Registry{opts: opts, self: self, hashed: h}, nil
}

// ID is this replica's id.
func (r *Registry) ID() string { return r.self.ID }

// URL is where peers reach this replica.
func (r *Registry) URL() string { return r.opts.URL }

// Join registers the replica; call it before serving.
func (r *Registry) Join(ctx context.Context) error {
	if err := r.opts.Store.RegisterReplica(ctx, store.Replica{ID: r.self.ID, URL: r.opts.URL, Peer: r.hashed, Version: r.opts.Version}); err != nil {
		return err
	}
	return r.refresh(ctx)
}

// OnRejoin registers f to run after the replica registered again because
// its peers had forgotten it (a long pause): it announces again what it
// holds.
func (r *Registry) OnRejoin(f func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejoins = append(r.rejoins, f)
}

// Run beats, forgets dead replicas and refreshes the list of live ones,
// every Beat, until ctx ends.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.Beat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.beat(ctx)
	}
}

func (r *Registry) beat(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, r.opts.Beat)
	defer cancel()
	err := r.opts.Store.Heartbeat(cctx, r.self.ID)
	if errors.Is(err, store.ErrNotFound) {
		r.opts.Logger.Warn("this replica was forgotten by its peers (paused or cut off for too long): joining again")
		if err = r.Join(cctx); err == nil {
			r.mu.Lock()
			fs := append([]func(context.Context){}, r.rejoins...)
			r.mu.Unlock()
			for _, f := range fs {
				f(ctx)
			}
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("replica heartbeat", "err", err)
		}
		return
	}
	if gone, err := r.opts.Store.ForgetReplicas(cctx, r.opts.Dead); err != nil {
		r.opts.Logger.Warn("forget dead replicas", "err", err)
	} else if len(gone) > 0 {
		r.opts.Logger.Info("forgot replicas that stopped beating", "replicas", gone)
	}
	if err := r.refresh(cctx); err != nil && ctx.Err() == nil {
		r.opts.Logger.Warn("list live replicas", "err", err)
	}
}

func (r *Registry) refresh(ctx context.Context) error {
	list, err := r.opts.Store.LiveReplicas(ctx, r.opts.Dead)
	if err != nil {
		return err
	}
	live := make(map[string]store.Replica, len(list))
	for _, p := range list {
		live[p.ID] = p
	}
	r.mu.Lock()
	r.live, r.liveAt = live, time.Now()
	r.mu.Unlock()
	if r.opts.Metrics != nil {
		r.opts.Metrics.LiveReplicas.Set(float64(len(live)))
	}
	return nil
}

// Live returns the live replicas other than this one, as of the last beat.
func (r *Registry) Live() []store.Replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]store.Replica, 0, len(r.live))
	for id, p := range r.live {
		if id != r.self.ID {
			out = append(out, p)
		}
	}
	return out
}

// Leave takes this replica out of the database at once (with its tunnel
// records): its peers stop relaying to it within their lookup's life, not
// after its beat went stale.
func (r *Registry) Leave(ctx context.Context) error {
	return r.opts.Store.RemoveReplica(ctx, r.self.ID)
}

// credential is the value of the peer header this replica sends.
func (r *Registry) credential() string { return r.self.String() }

// rereadEvery bounds how often a credential of a replica this one does not
// know makes it read the live replicas again (a peer that joined since the
// last beat relays at once): whoever sends such credentials costs the
// database one query a second at most.
const rereadEvery = time.Second

// verifyPeer returns the id of the live replica whose credential raw is
// (this replica's own included: a relay that came back); false for
// anything else. A well-formed credential of a replica it does not know
// makes it read the live replicas again, at most every rereadEvery.
func (r *Registry) verifyPeer(ctx context.Context, raw string) (string, bool) {
	t, err := token.Parse(raw)
	if err != nil || !ids.Replica.Valid(t.ID) {
		return "", false
	}
	if t.ID == r.self.ID {
		return t.ID, token.Verify(t, r.hashed)
	}
	r.mu.Lock()
	p, ok := r.live[t.ID]
	reread := !ok && time.Since(r.missAt) >= rereadEvery
	if reread {
		r.missAt = time.Now()
	}
	r.mu.Unlock()
	if reread {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		err := r.refresh(cctx)
		cancel()
		if err != nil {
			r.opts.Logger.Warn("list live replicas", "err", err)
		}
		r.mu.Lock()
		p, ok = r.live[t.ID]
		r.mu.Unlock()
	}
	if !ok || !token.Verify(t, p.Peer) {
		return "", false
	}
	return p.ID, true
}

func (r *Registry) String() string { return fmt.Sprintf("replica %s at %s", r.self.ID, r.opts.URL) }
