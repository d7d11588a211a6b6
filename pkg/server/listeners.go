package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/controller"
	"github.com/drover-dev/drover/pkg/notify"
	"github.com/drover-dev/drover/pkg/replica"
	"github.com/drover-dev/drover/pkg/store"
)

// revoker makes a revocation hold everywhere at once: the token cache
// forgets the token, its open streams end, and the clusters' authorized
// endpoints are told.
type revoker struct {
	auth    *authn.Authenticator
	streams *authproxy.Streams
	ctrl    *controller.Manager
	changes *notify.Signal // live views end the token's streams
	// bus tells the other replicas; nil alone.
	bus *replica.Bus
}

func (r revoker) Invalidate(tokenID string) {
	r.local(tokenID)
	if r.bus != nil {
		r.bus.Revoked(tokenID)
	}
}

// local is Invalidate on this server only (a peer's revocation).
func (r revoker) local(tokenID string) {
	r.auth.Invalidate(tokenID)
	r.streams.Revoke(tokenID)
	r.ctrl.Kick() // authorized endpoints drop the token's Secret now
	r.changes.Notify()
}

// accessListener makes a change to bindings, projects or users hold at
// once on this server: identities and membership answers are recomputed,
// and every cluster's downstream RBAC is reconciled now.
type accessListener struct {
	auth    *authn.Authenticator
	checker *access.Checker
	ctrl    *controller.Manager
	// recheck asks recheckStreams for a pass; a pass already asked for
	// covers every change made before it starts.
	recheck chan struct{}
	changes *notify.Signal // live views show what the caller may see now
	// bus tells the other replicas; nil alone.
	bus *replica.Bus
}

func (l accessListener) AccessChanged() {
	l.local()
	if l.bus != nil {
		l.bus.AccessChanged()
	}
}

// local is AccessChanged on this server only (a peer's change).
func (l accessListener) local() {
	l.auth.InvalidateAll()
	l.checker.Invalidate()
	l.ctrl.Kick()
	l.changes.Notify()
	select {
	case l.recheck <- struct{}{}:
	default:
	}
}

// recheckStreams ends the open watches, logs and exec sessions of users who
// lost access to their cluster (a binding removed, a group gone, no longer a
// global admin), after each change, until ctx ends.
func (l accessListener) recheckStreams(ctx context.Context, streams *authproxy.Streams, st *store.Store, logger *slog.Logger) {
	allowed := func(ctx context.Context, o authproxy.Owner) (bool, error) {
		u, err := st.UserByID(ctx, o.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
		// The stream's credential was in scope when it opened; only the
		// user's own standing can have changed.
		v, err := l.checker.MayReach(ctx, access.Caller{UserID: u.ID, Admin: u.Admin, Disabled: u.Disabled}, o.ClusterID)
		return v == access.Allowed, err
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.recheck:
		}
		pass, cancel := context.WithTimeout(ctx, 30*time.Second)
		if n := streams.Recheck(pass, allowed); n > 0 {
			logger.Info("access changed: closed open streams", "streams", n)
		}
		cancel()
	}
}
