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
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		r.RefreshDue(ctx, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshDue runs one pass of RunRefresh. It first drops, in one
// statement, the groups of every external user not refreshed for MaxStale
// (whatever the reason: the provider is down, gave nothing to refresh
// with, or the pass never reached the user). Then, per provider, it
// refreshes the users due: groups older than interval and no attempt
// within interval, least recently attempted first. Every attempt is
// recorded, so users whose refresh keeps failing go to the back of the
// queue instead of starving the rest, and are asked again an interval
// later.
func (r *Registry) RefreshDue(ctx context.Context, interval time.Duration) {
	now := r.opts.Now()
	r.dropStale(ctx, now)
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
			if r.refreshOne(ctx, u) {
				failures = 0
				continue
			}
			if failures++; failures == maxFailuresInARow {
				// The users not asked stay due, ahead of those that
				// failed: the next pass starts with them.
				r.opts.Logger.Warn("group refresh: provider not answering; next pass tries again", "provider", row.Name)
				break
			}
		}
	}
}

// refreshOne refreshes u; it returns false when the provider did not
// answer.
func (r *Registry) refreshOne(ctx context.Context, u store.User) bool {
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
		r.opts.Logger.Debug("group refresh: nothing to refresh with; groups kept until stale", "user", u.Username, "user_id", u.ID)
		return true
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrUserDisabled):
		return true // gone or disabled meanwhile
	}
	r.opts.Logger.Warn("group refresh failed; will retry", "user", u.Username, "user_id", u.ID, "err", err)
	return false
}

// dropStale drops the groups of external users not refreshed for MaxStale.
func (r *Registry) dropStale(ctx context.Context, now time.Time) {
	if r.opts.MaxStale <= 0 {
		return
	}
	ids, err := r.opts.Store.DropStaleGroups(ctx, now.Add(-r.opts.MaxStale))
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Error("group refresh: drop stale groups", "err", err)
		}
		return
	}
	if len(ids) == 0 {
		return
	}
	r.opts.Logger.Warn("group refresh: groups dropped, not refreshed for too long", "users", len(ids),
		"user_ids", ids, "max_stale", r.opts.MaxStale)
	r.accessChanged()
}
