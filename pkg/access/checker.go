package access

import (
	"context"
	"sync"
	"time"
)

// MemberStore answers membership from the store.
type MemberStore interface {
	IsClusterMember(ctx context.Context, userID, clusterID string) (bool, error)
}

// Checker answers "may this user reach this cluster at all?" for the proxy's
// hot path, from a short cache. Bindings changed through this server
// invalidate it at once; changes made through another replica show within
// TTL.
type Checker struct {
	store MemberStore
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	gen   uint64
	cache map[memberKey]memberEntry
}

type memberKey struct{ user, cluster string }

type memberEntry struct {
	member bool
	at     time.Time
}

// CheckerOptions configure a Checker.
type CheckerOptions struct {
	Store MemberStore
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
	return &Checker{store: opts.Store, ttl: opts.TTL, now: opts.Now, cache: map[memberKey]memberEntry{}}
}

// Member reports whether the user holds any binding in the cluster. Global
// admins are members of every cluster: callers check that first.
func (c *Checker) Member(ctx context.Context, userID, clusterID string) (bool, error) {
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

// Invalidate forgets every answer (after a binding, project or group change).
func (c *Checker) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.cache = map[memberKey]memberEntry{}
	c.mu.Unlock()
}
