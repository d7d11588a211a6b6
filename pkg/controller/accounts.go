package controller

import (
	"context"
	"errors"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/store"
)

// sweepEvery is how often the accounts are swept without a kick.
const sweepEvery = 30 * time.Second

// sweepAccounts deletes the impersonation accounts the cluster should no
// longer have: those of users who cannot reach it any more (binding gone,
// disabled, deleted), a user's own account once their identity changed
// (groups, admin), and --as accounts after accounts.AsLifetime.
func (c *clusterController) sweepAccounts(ctx context.Context, cs kubernetes.Interface) {
	if c.opts.Accounts == nil || c.opts.Reach == nil {
		return
	}
	clusterID := c.session.ClusterID
	keep := func(ctx context.Context, userID, kind, name string, created time.Time) (bool, error) {
		u, err := c.opts.Store.UserByID(ctx, userID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		v, err := c.opts.Reach.MayReach(ctx, access.Caller{UserID: u.ID, Admin: u.Admin, Disabled: u.Disabled}, clusterID)
		if err != nil || v != access.Allowed {
			return false, err
		}
		switch kind {
		case accounts.KindOwn:
			return name == accounts.Name(accounts.Own(u.Username, u.ID, authn.Groups(u))), nil
		case accounts.KindAs:
			return c.opts.Now().Sub(created) < accounts.AsLifetime, nil
		}
		return false, nil
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := c.opts.Accounts.Sweep(sctx, cs, clusterID, keep)
	if n > 0 {
		c.log.Info("deleted impersonation accounts", "count", n)
	}
	if err != nil && ctx.Err() == nil {
		c.failed("sweep_accounts", "sweep impersonation accounts", "err", err)
	}
}
