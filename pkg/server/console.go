package server

import (
	"context"
	"time"

	"github.com/drover-dev/drover/pkg/notify"
	"github.com/drover-dev/drover/pkg/store"
)

// statusNotifier is the store the cluster controllers write through: each
// status written wakes the live views (package notify), so a cluster's
// version, nodes and warnings reach the console as they are gathered.
type statusNotifier struct {
	*store.Store
	changes *notify.Signal
}

func (s statusNotifier) SaveClusterStatus(ctx context.Context, clusterID string, status []byte, at time.Time) error {
	err := s.Store.SaveClusterStatus(ctx, clusterID, status, at)
	if err == nil {
		s.changes.Notify()
	}
	return err
}

func (s statusNotifier) SaveClusterStatusFenced(ctx context.Context, clusterID string, status []byte, at time.Time, l store.Lease) (bool, error) {
	ok, err := s.Store.SaveClusterStatusFenced(ctx, clusterID, status, at, l)
	if ok && err == nil {
		s.changes.Notify()
	}
	return ok, err
}
