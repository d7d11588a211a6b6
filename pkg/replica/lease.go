package replica

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-dev/drover/pkg/store"
)

// LeaseStore keeps leases (the database's clock decides expiry).
type LeaseStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, bool, error)
	RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, l store.Lease) error
}

// Lease timing: a holder renews every LeaseTTL/5 and gives up what it holds
// (its context ends) once it could not renew for LeaseTTL*3/5, well before
// another replica may take the lease (LeaseTTL after the last renewal, by
// the database's clock). A replica that dies is replaced within LeaseTTL.
const LeaseTTL = 10 * time.Second

// Leases makes what must run once across replicas run on this replica
// only while it holds the lease.
type Leases struct {
	st  LeaseStore
	reg *Registry
	log *slog.Logger
	ttl time.Duration
}

// NewLeases returns the leases of reg's replica.
func NewLeases(st LeaseStore, reg *Registry, logger *slog.Logger) *Leases {
	return &Leases{st: st, reg: reg, log: logger, ttl: LeaseTTL}
}

// Hold takes the named lease and keeps renewing it. held ends when ctx
// ends or the lease is lost (not renewed in time, or taken); release
// lets it go (call it once done). ok is false, with nothing held, when
// another replica holds it.
func (l *Leases) Hold(ctx context.Context, name string) (held context.Context, lease store.Lease, release func(), ok bool, err error) {
	lease, ok, err = l.st.AcquireLease(ctx, name, l.reg.ID(), l.ttl)
	if err != nil || !ok {
		return nil, store.Lease{}, nil, false, err
	}
	held, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		renewed := time.Now() // monotonic: a paused process sees the pause
		t := time.NewTicker(l.ttl / 5)
		defer t.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(held, l.ttl/5)
			still, err := l.st.RenewLease(rctx, lease, l.ttl)
			rcancel()
			switch {
			case err == nil && still:
				renewed = time.Now()
			case err == nil:
				l.log.Warn("lost a lease to another replica", "lease", name)
				cancel(errLeaseLost)
				return
			case time.Since(renewed) > l.ttl*3/5:
				l.log.Warn("could not renew a lease in time: letting it go", "lease", name, "err", err)
				cancel(errLeaseLost)
				return
			}
			if time.Since(renewed) > l.ttl*3/5 { // renewed, but after a pause longer than that
				cancel(errLeaseLost)
				return
			}
		}
	}()
	release = func() {
		cancel(context.Canceled)
		<-done
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer rcancel()
		if err := l.st.ReleaseLease(rctx, lease); err != nil {
			l.log.Debug("release a lease", "lease", name, "err", err)
		}
	}
	return held, lease, release, true, nil
}

// RunExclusive runs f while this replica holds the named lease, again
// whenever it gets it back, until ctx ends: f's context ends when the
// lease is lost. Between attempts it waits half the lease's life.
func (l *Leases) RunExclusive(ctx context.Context, name string, f func(ctx context.Context)) {
	for ctx.Err() == nil {
		held, _, release, ok, err := l.Hold(ctx, name)
		if err != nil && ctx.Err() == nil {
			l.log.Warn("acquire a lease", "lease", name, "err", err)
		}
		if ok {
			l.log.Info("this replica runs it now", "lease", name)
			f(held)
			release()
		}
		select {
		case <-ctx.Done():
		case <-time.After(l.ttl / 2):
		}
	}
}

type leaseError string

func (e leaseError) Error() string { return string(e) }

// errLeaseLost ends what ran under a lease that is no longer this
// replica's.
const errLeaseLost = leaseError("the lease went to another replica")
