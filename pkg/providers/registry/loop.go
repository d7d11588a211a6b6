package registry

import (
	"context"
	"errors"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
)

// Bounds of one refresh pass.
const (
	// refreshBatch is how many due users of one provider a pass looks at.
	refreshBatch = 200
	// refreshTimeout bounds one user's refresh.
	refreshTimeout = 30 * time.Second
	// maxFailuresInARow ends a provider's pass: it is not answering, and
	// asking for every user would only add a timeout each.
	maxFailuresInARow = 3
)

// RunRefresh refreshes, until ctx is done, every enabled user of a
// configured provider whose groups are older than interval. It checks
// every interval/10 (between 1 s and 1 min). interval <= 0 disables it.
func (r *Registry) RunRefresh(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		r.opts.Logger.Info("group refresh disabled")
		return
	}
	tick := min(max(interval/10, time.Second), time.Minute)
	skip := map[string]time.Time{} // user id → not before
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		r.RefreshDue(ctx, interval, skip)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshDue runs one pass of RunRefresh. skip holds users to leave alone
// until a time (those with nothing to refresh with); it may be nil.
func (r *Registry) RefreshDue(ctx context.Context, interval time.Duration, skip map[string]time.Time) {
	now := r.opts.Now()
	for id, until := range skip {
		if !now.Before(until) {
			delete(skip, id)
		}
	}
	rows, err := r.opts.Store.ListAuthProviders(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("group refresh: list providers", "err", err)
		}
		return
	}
	for _, row := range rows {
		users, err := r.opts.Store.UsersToRefresh(ctx, row.Name, now.Add(-interval), refreshBatch)
		if err != nil {
			r.opts.Logger.Warn("group refresh: list users", "provider", row.Name, "err", err)
			continue
		}
		failures := 0
		for _, u := range users {
			if ctx.Err() != nil {
				return
			}
			if _, ok := skip[u.ID]; ok {
				continue
			}
			if failures >= maxFailuresInARow {
				// Not asking, but stale groups still go.
				r.dropIfStale(ctx, u)
				continue
			}
			if r.refreshOne(ctx, u, skip, interval) {
				failures = 0
				continue
			}
			if failures++; failures == maxFailuresInARow {
				r.opts.Logger.Warn("group refresh: provider not answering; next pass tries again", "provider", row.Name)
			}
		}
	}
}

// refreshOne refreshes u; it returns false when the provider did not
// answer.
func (r *Registry) refreshOne(ctx context.Context, u store.User, skip map[string]time.Time, interval time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	res, err := r.Refresh(ctx, u.ID)
	switch {
	case err == nil:
		if res.Disabled {
			r.opts.Logger.Info("group refresh: user disabled", "user", u.Username, "user_id", u.ID)
		}
		return true
	case errors.Is(err, providers.ErrNoRefresh):
		if skip != nil {
			skip[u.ID] = r.opts.Now().Add(interval)
		}
		r.opts.Logger.Debug("group refresh: nothing to refresh with; groups kept", "user", u.Username, "user_id", u.ID)
		return true
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrUserDisabled):
		return true // gone or disabled meanwhile
	}
	r.opts.Logger.Warn("group refresh failed; will retry", "user", u.Username, "user_id", u.ID, "err", err)
	r.dropIfStale(ctx, u)
	return false
}

// dropIfStale drops the groups of u when they are older than MaxStale.
func (r *Registry) dropIfStale(ctx context.Context, u store.User) {
	if r.opts.MaxStale <= 0 || r.opts.Now().Sub(u.GroupsAt) <= r.opts.MaxStale || len(u.Groups) == 0 {
		return
	}
	if err := r.dropGroups(ctx, u); err != nil {
		r.opts.Logger.Error("group refresh: drop stale groups", "user_id", u.ID, "err", err)
		return
	}
	r.opts.Logger.Warn("group refresh: groups dropped, not refreshed for too long", "user", u.Username,
		"user_id", u.ID, "groups_refreshed_at", u.GroupsAt, "max_stale", r.opts.MaxStale)
}
