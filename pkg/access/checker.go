package access

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/store"
)

// Store is what the checker reads.
type Store interface {
	IsClusterMember(ctx context.Context, userID, clusterID string) (bool, error)
	MemberClusterIDs(ctx context.Context, userID string) (map[string]bool, error)
	Cluster(ctx context.Context, id string) (store.Cluster, error)
	// For ReadableNamespaces.
	CallerBindings(ctx context.Context, userID, clusterID string) ([]store.Binding, error)
	ListProjects(ctx context.Context, clusterID string) ([]store.Project, error)
}

// Checker is the one owner of "may this caller reach this cluster at all?"
// (MayReach, Reachable): the proxy asks it on every request, the API when it
// lists or shows clusters, and the server when it re-checks open streams
// after an access change. Answers come from a short cache for the proxy's
// hot path. Bindings changed through this server invalidate it at once;
// changes made through another replica show within TTL.
type Checker struct {
	store Store
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	gen   uint64
	cache map[memberKey]memberEntry
	known map[string]time.Time // cluster id → when it was last found in the store
}

type memberKey struct{ user, cluster string }

type memberEntry struct {
	member bool
	at     time.Time
}

// CheckerOptions configure a Checker.
type CheckerOptions struct {
	Store Store
	// TTL bounds how long an answer is reused (default 2 s).
	TTL time.Duration
	Now func() time.Time
}

// maxCached bounds the cache; past it the cache starts over.
const maxCached = 100_000

// NewChecker returns a Checker.
func NewChecker(opts CheckerOptions) *Checker {
	if opts.TTL <= 0 {
		opts.TTL = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Checker{store: opts.Store, ttl: opts.TTL, now: opts.Now, cache: map[memberKey]memberEntry{}, known: map[string]time.Time{}}
}

// member reports whether the user holds any binding in the cluster (false
// for a cluster that does not exist).
func (c *Checker) member(ctx context.Context, userID, clusterID string) (bool, error) {
	k := memberKey{userID, clusterID}
	now := c.now()
	c.mu.Lock()
	e, ok := c.cache[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.member, nil
	}
	member, err := c.store.IsClusterMember(ctx, userID, clusterID)
	if errors.Is(err, store.ErrNotFound) {
		member, err = false, nil
	}
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.gen == gen { // not invalidated while we read
		if len(c.cache) >= maxCached {
			c.cache = map[memberKey]memberEntry{}
		}
		c.cache[k] = memberEntry{member: member, at: now}
	}
	c.mu.Unlock()
	return member, nil
}

// Invalidate forgets every answer (after a binding, project, group or
// cluster change).
func (c *Checker) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.cache = map[memberKey]memberEntry{}
	c.known = map[string]time.Time{}
	c.mu.Unlock()
}
