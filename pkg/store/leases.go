package store

import (
	"context"
	"fmt"
	"time"
)

// Lease is a held lease: its name, holder and fence (which grows with
// every new holder).
type Lease struct {
	Name   string
	Holder string
	Fence  int64
}

// AcquireLease takes the named lease for holder for ttl, by the database's
// clock, if nobody holds it or its holder let it expire; a holder that
// holds it already gets it again with a new fence. ok is false when
// another holder has it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	now := s.db.dialect.nowMillis()
	var fence int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO leases (name, holder, fence, expires_at) VALUES (?, ?, 1, `+now+` + ?)
		ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, fence = leases.fence + 1, expires_at = excluded.expires_at
		WHERE leases.expires_at < `+now+` OR leases.holder = excluded.holder
		RETURNING fence`, name, holder, ttl.Milliseconds()).Scan(&fence)
	switch err = mapErr(err); {
	case err == ErrNotFound:
		return Lease{}, false, nil
	case err != nil:
		return Lease{}, false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return Lease{Name: name, Holder: holder, Fence: fence}, true, nil
}

// RenewLease extends a held lease by ttl from now; false when it is no
// longer the caller's (it expired and another took it).
func (s *Store) RenewLease(ctx context.Context, l Lease, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = `+s.db.dialect.nowMillis()+` + ?
		WHERE name = ? AND holder = ? AND fence = ?`, ttl.Milliseconds(), l.Name, l.Holder, l.Fence)
	if err != nil {
		return false, fmt.Errorf("renew lease %q: %w", l.Name, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseLease lets a held lease go at once, for the next holder. The row
// stays (expired), so that the fence keeps growing.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ? AND fence = ?`,
		l.Name, l.Holder, l.Fence); err != nil {
		return fmt.Errorf("release lease %q: %w", l.Name, err)
	}
	return nil
}

// SaveClusterStatusFenced is SaveClusterStatus under a lease: it writes
// nothing (and reports false) unless the lease is still the caller's
// current one, so a controller that lost its lease while paused cannot
// write over its successor's status.
func (s *Store) SaveClusterStatusFenced(ctx context.Context, clusterID string, status []byte, at time.Time, l Lease) (bool, error) {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO cluster_status (cluster_id, status, updated_at)
		 SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM leases WHERE name = ? AND holder = ? AND fence = ?)
		 ON CONFLICT(cluster_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
		clusterID, string(status), unix(at), l.Name, l.Holder, l.Fence)
	if err = mapErr(err); err != nil {
		return false, fmt.Errorf("save status of cluster %q: %w", clusterID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
