package store

import (
	"context"
	"fmt"
	"time"

	"github.com/drover-dev/drover/pkg/token"
)

// Replica is one server process sharing the database.
type Replica struct {
	ID  string
	URL string // where its peers reach it
	// Peer is the hash of the credential it presents to its peers.
	Peer      token.Hashed
	Version   string
	StartedAt time.Time
	// HeartbeatAt is its last beat, by the database's clock.
	HeartbeatAt time.Time
}

// nowMillis is the database's clock in Unix milliseconds: replicas compare
// heartbeats by one clock, whatever theirs say.
func (d dialect) nowMillis() string {
	if d == dialectPostgres {
		return `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
	}
	return `CAST(unixepoch('subsec') * 1000 AS INTEGER)`
}

// RegisterReplica records a replica (again, after it was forgotten), its
// start and first beat now.
func (s *Store) RegisterReplica(ctx context.Context, r Replica) error {
	now := s.db.dialect.nowMillis()
	_, err := s.db.ExecContext(ctx, `INSERT INTO replicas (id, url, peer_salt, peer_hash, version, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, `+now+`, `+now+`)
		ON CONFLICT(id) DO UPDATE SET url = excluded.url, peer_salt = excluded.peer_salt, peer_hash = excluded.peer_hash,
			version = excluded.version, heartbeat_at = excluded.heartbeat_at`,
		r.ID, r.URL, r.Peer.Salt, r.Peer.Hash, r.Version)
	if err = mapErr(err); err != nil {
		return fmt.Errorf("register replica %q: %w", r.ID, err)
	}
	return nil
}

// Heartbeat records that a replica is alive; ErrNotFound when it was
// forgotten (it must register again and announce its tunnels).
func (s *Store) Heartbeat(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE replicas SET heartbeat_at = `+s.db.dialect.nowMillis()+` WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("heartbeat of replica %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("heartbeat of replica %q: %w", id, ErrNotFound)
	}
	return nil
}

// LiveReplicas returns the replicas that beat within the last window, by
// id.
func (s *Store) LiveReplicas(ctx context.Context, window time.Duration) ([]Replica, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, url, peer_salt, peer_hash, version, started_at, heartbeat_at FROM replicas
		WHERE heartbeat_at >= `+s.db.dialect.nowMillis()+` - ? ORDER BY id`, window.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("live replicas: %w", err)
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var r Replica
		var started, beat int64
		if err := rows.Scan(&r.ID, &r.URL, &r.Peer.Salt, &r.Peer.Hash, &r.Version, &started, &beat); err != nil {
			return nil, err
		}
		r.StartedAt, r.HeartbeatAt = fromUnix(started), fromUnix(beat)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ForgetReplicas deletes the replicas that did not beat within after, and
// (by cascade) the tunnels they held; it returns their ids.
func (s *Store) ForgetReplicas(ctx context.Context, after time.Duration) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM replicas WHERE heartbeat_at < `+s.db.dialect.nowMillis()+` - ? RETURNING id`,
		after.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("forget replicas: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// RemoveReplica deletes a replica that is leaving, with its tunnel
// records.
func (s *Store) RemoveReplica(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM replicas WHERE id = ?`, id); err != nil {
		return fmt.Errorf("remove replica %q: %w", id, err)
	}
	return nil
}

// TunnelHolder is a replica holding agent tunnels of a cluster.
type TunnelHolder struct {
	ReplicaID   string
	URL         string
	Kind        string // agentapi.KindCluster or KindNode
	Sessions    int
	ConnectedAt time.Time
}

// SetTunnels records how many tunnels of an agent kind a replica holds for
// a cluster (0: none; connectedAt is kept while the count stays above 0).
// A cluster deleted meanwhile is not an error.
func (s *Store) SetTunnels(ctx context.Context, replicaID, clusterID, kind string, sessions int, connectedAt time.Time) error {
	var err error
	if sessions <= 0 {
		_, err = s.db.ExecContext(ctx, `DELETE FROM cluster_tunnels WHERE cluster_id = ? AND replica_id = ? AND kind = ?`,
			clusterID, replicaID, kind)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO cluster_tunnels (cluster_id, replica_id, kind, sessions, connected_at)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM clusters WHERE id = ?)
			ON CONFLICT(cluster_id, replica_id, kind) DO UPDATE SET sessions = excluded.sessions`,
			clusterID, replicaID, kind, sessions, unix(connectedAt), clusterID)
	}
	if err = mapErr(err); err != nil {
		return fmt.Errorf("tunnels of cluster %q on replica %q: %w", clusterID, replicaID, err)
	}
	return nil
}

// ClearTunnels forgets every tunnel a replica recorded (when it starts, or
// registers again after it was forgotten).
func (s *Store) ClearTunnels(ctx context.Context, replicaID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cluster_tunnels WHERE replica_id = ?`, replicaID); err != nil {
		return fmt.Errorf("clear tunnels of replica %q: %w", replicaID, err)
	}
	return nil
}

// TunnelHolders returns the live replicas (beat within window) holding
// tunnels of a cluster: cluster agents first, then the newest first.
func (s *Store) TunnelHolders(ctx context.Context, clusterID string, window time.Duration) ([]TunnelHolder, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT t.replica_id, r.url, t.kind, t.sessions, t.connected_at
		FROM cluster_tunnels t JOIN replicas r ON r.id = t.replica_id
		WHERE t.cluster_id = ? AND r.heartbeat_at >= `+s.db.dialect.nowMillis()+` - ?
		ORDER BY CASE t.kind WHEN 'cluster' THEN 0 ELSE 1 END, t.connected_at DESC, t.replica_id`,
		clusterID, window.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("tunnels of cluster %q: %w", clusterID, err)
	}
	defer rows.Close()
	var out []TunnelHolder
	for rows.Next() {
		var h TunnelHolder
		var at int64
		if err := rows.Scan(&h.ReplicaID, &h.URL, &h.Kind, &h.Sessions, &at); err != nil {
			return nil, err
		}
		h.ConnectedAt = fromUnix(at)
		out = append(out, h)
	}
	return out, rows.Err()
}

// Identity returns a shared identity value (sealed by the caller);
// ErrNotFound when none was stored.
func (s *Store) Identity(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM service_identity WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("identity %q: %w", name, mapErr(err))
	}
	return v, nil
}

// PutIdentityIfAbsent stores value under name unless a value is there, and
// returns the stored value: of replicas racing to make the first, every
// one gets the winner's.
func (s *Store) PutIdentityIfAbsent(ctx context.Context, name string, value []byte, at time.Time) ([]byte, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO service_identity (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(name) DO NOTHING`, name, value, unix(at)); err != nil {
		return nil, fmt.Errorf("identity %q: %w", name, mapErr(err))
	}
	return s.Identity(ctx, name)
}

// SwapIdentity replaces the value under name if it is still old; it
// reports whether it was.
func (s *Store) SwapIdentity(ctx context.Context, name string, old, value []byte, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE service_identity SET value = ?, updated_at = ? WHERE name = ? AND value = ?`,
		value, unix(at), name, old)
	if err != nil {
		return false, fmt.Errorf("identity %q: %w", name, mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
