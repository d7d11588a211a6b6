package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/store"
)

// Caller is who asks to reach a cluster.
type Caller struct {
	UserID   string
	Admin    bool
	Disabled bool
	// Scope is the one cluster the caller's credential is limited to;
	// empty: any.
	Scope string
}

// CallerOf is the Caller behind an authenticated request.
func CallerOf(id authn.Identity) Caller {
	return Caller{UserID: id.UserID, Admin: id.Admin, Scope: id.ClusterID}
}

// Verdict is the answer to "may this caller reach this cluster?".
type Verdict uint8

// Verdicts.
const (
	Allowed Verdict = iota
	// OutOfScope: the credential is limited to another cluster.
	OutOfScope
	// NotMember: the user holds no binding in the cluster (or is disabled).
	// A cluster that does not exist answers the same to non-admins, so
	// that a non-member cannot learn which cluster ids exist.
	NotMember
	// NoSuchCluster: the cluster does not exist (answered to admins).
	NoSuchCluster
)

// The rule, written once: a disabled user reaches nothing; a credential
// scoped to one cluster reaches only that one; a global admin reaches every
// cluster that exists; anyone else reaches the clusters in which they hold
// a binding (directly, through a group, or in one of the cluster's
// projects).

// MayReach answers for one cluster. It is the proxy's question on every
// request, so membership and existence come from short caches.
func (c *Checker) MayReach(ctx context.Context, caller Caller, clusterID string) (Verdict, error) {
	switch {
	case caller.Disabled:
		return NotMember, nil
	case caller.Scope != "" && caller.Scope != clusterID:
		return OutOfScope, nil
	case caller.Admin:
		ok, err := c.exists(ctx, clusterID)
		if err != nil {
			return 0, err
		}
		if !ok {
			return NoSuchCluster, nil
		}
		return Allowed, nil
	}
	member, err := c.member(ctx, caller.UserID, clusterID)
	if err != nil {
		return 0, err
	}
	if !member {
		return NotMember, nil
	}
	return Allowed, nil
}

// Reachable answers for every cluster at once (listings): the returned
// function says whether the caller may reach a cluster id, by the same rule
// as MayReach. It reads the store, not the caches.
func (c *Checker) Reachable(ctx context.Context, caller Caller) (func(clusterID string) bool, error) {
	scoped := func(id string) bool { return caller.Scope == "" || caller.Scope == id }
	switch {
	case caller.Disabled:
		return func(string) bool { return false }, nil
	case caller.Admin:
		return scoped, nil
	}
	member, err := c.store.MemberClusterIDs(ctx, caller.UserID)
	if err != nil {
		return nil, fmt.Errorf("clusters of user %q: %w", caller.UserID, err)
	}
	return func(id string) bool { return scoped(id) && member[id] }, nil
}

// exists says whether a cluster is in the store; positive answers are
// cached for the checker's TTL (a hostile client cannot fill the cache with
// made-up ids).
func (c *Checker) exists(ctx context.Context, clusterID string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	at, ok := c.known[clusterID]
	c.mu.Unlock()
	if ok && now.Sub(at) < c.ttl {
		return true, nil
	}
	_, err := c.store.Cluster(ctx, clusterID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.mu.Lock()
		delete(c.known, clusterID)
		c.mu.Unlock()
		return false, nil
	case err != nil:
		return false, err
	}
	c.mu.Lock()
	if len(c.known) >= maxCached {
		c.known = map[string]time.Time{}
	}
	c.known[clusterID] = now
	c.mu.Unlock()
	return true, nil
}
