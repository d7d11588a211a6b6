package replica

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/drover-dev/drover/pkg/ids"
)

// EventStore carries events between replicas (PostgreSQL LISTEN/NOTIFY).
type EventStore interface {
	Notify(ctx context.Context, payload string) error
	Listen(ctx context.Context, ready func(), f func(payload string)) error
}

// Apply is what this replica does when a peer reports a change: the same
// it does for a change made here (the server's revoker and access
// listener), without telling the peers again.
type Apply struct {
	// Revoked: a token was deleted (its cache entry goes, its streams end).
	Revoked func(tokenID string)
	// AccessChanged: bindings, projects, users or groups changed.
	AccessChanged func()
	// ClusterRemoved: a cluster was deleted (its tunnels here close).
	ClusterRemoved func(clusterID string)
}

// Bus tells the other replicas of revocations, access changes and deleted
// clusters the moment they are committed, and applies theirs here: a
// token revoked through one replica is refused by every replica, and its
// open streams end, within the time a notification takes (milliseconds),
// not a cache's lifetime.
type Bus struct {
	st    EventStore
	self  string
	local Apply
	log   *slog.Logger
}

// Event kinds on the wire: "<replica id> <kind> [<id>]".
const (
	eventToken   = "token"
	eventAccess  = "access"
	eventCluster = "cluster"
)

// NewBus returns the bus of reg's replica.
func NewBus(st EventStore, reg *Registry, local Apply, logger *slog.Logger) *Bus {
	return &Bus{st: st, self: reg.ID(), local: local, log: logger}
}

func (b *Bus) publish(kind, id string) {
	payload := b.self + " " + kind
	if id != "" {
		payload += " " + id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.st.Notify(ctx, payload); err != nil {
		// The peers' caches expire and their streams are re-checked on
		// their own within seconds: late, not never.
		b.log.Warn("tell the other replicas", "event", kind, "err", err)
	}
}

// Revoked tells the peers a token was deleted.
func (b *Bus) Revoked(tokenID string) { b.publish(eventToken, tokenID) }

// AccessChanged tells the peers access changed.
func (b *Bus) AccessChanged() { b.publish(eventAccess, "") }

// ClusterRemoved tells the peers a cluster was deleted.
func (b *Bus) ClusterRemoved(clusterID string) { b.publish(eventCluster, clusterID) }

// Run applies the peers' events until ctx ends, listening again after a
// broken connection; since events may have been missed meanwhile, it then
// acts as if access had changed (every cache entry goes, every stream is
// checked again).
func (b *Bus) Run(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		err := b.st.Listen(ctx, func() {
			if !first {
				b.log.Info("listening to the other replicas again; re-checking everything that may have changed meanwhile")
				b.local.AccessChanged()
			}
			first = false
		}, b.apply)
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("listening to the other replicas", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// apply acts on one payload; anything malformed or from this replica is
// ignored (the sender applied its own change already).
func (b *Bus) apply(payload string) {
	f := strings.Fields(payload)
	if len(f) < 2 || f[0] == b.self || !ids.Replica.Valid(f[0]) {
		return
	}
	switch {
	case f[1] == eventToken && len(f) == 3 && (ids.Token.Valid(f[2]) || ids.Session.Valid(f[2])):
		b.local.Revoked(f[2])
	case f[1] == eventAccess && len(f) == 2:
		b.local.AccessChanged()
	case f[1] == eventCluster && len(f) == 3 && ids.Cluster.Valid(f[2]):
		b.local.ClusterRemoved(f[2])
	default:
		b.log.Debug("an event from another replica that this one does not know", "event", f[1])
	}
}
