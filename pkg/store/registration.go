package store

import (
	"context"
	"fmt"
	"time"

	"github.com/drover-dev/drover/pkg/token"
)

// Agent kinds a registration token admits.
const (
	AgentCluster = "cluster"
	AgentNode    = "node"
)

// RegistrationToken lets an agent of one kind open a tunnel for one cluster.
//
// Registration tokens form families. Each mint of a cluster's registration
// (its creation, a rotation, a provisioned cluster's agent install) starts
// a generation with a root token; a token minted through another (the node
// token of a generation) is its child: same cluster, same generation, and
// it ends when its parent does. A rotation ends every earlier generation,
// children included (SupersedeRegistrations).
type RegistrationToken struct {
	ID        string
	ClusterID string
	Kind      string // AgentCluster (the default) or AgentNode
	Hashed    token.Hashed
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	// ParentID is the token this one was minted through; empty for the
	// root of a generation.
	ParentID string
	// Generation is the cluster's registration generation the token
	// belongs to; the store numbers them.
	Generation int64
	// Superseded means a later generation exists: the token was rotated
	// out and lives only until its ExpiresAt (the end of the grace).
	Superseded bool
}

// CreateRegistrationToken inserts the root token of a new registration
// generation of its cluster (one past the newest); ParentID and Generation
// of r are ignored.
func (s *Store) CreateRegistrationToken(ctx context.Context, r RegistrationToken) error {
	if r.Kind == "" {
		r.Kind = AgentCluster
	}
	// In a transaction: on PostgreSQL, concurrent mints would otherwise
	// read the same MAX(generation).
	return s.tx(ctx, fmt.Sprintf("create registration token for cluster %q", r.ClusterID), func(tx *txn) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO registration_tokens (id, cluster_id, kind, salt, hash, created_at, expires_at, parent_id, generation)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, '', coalesce(MAX(generation), 0) + 1 FROM registration_tokens WHERE cluster_id = ?2`,
			r.ID, r.ClusterID, r.Kind, r.Hashed.Salt, r.Hashed.Hash, unix(r.CreatedAt), unix(r.ExpiresAt))
		return err
	})
}

// RegistrationChild returns parent's child of the child's kind, creating it
// from child (its ID, Kind, Hashed and CreatedAt) when parent has none yet:
// a parent has at most one child of each kind. A child belongs to its
// parent's cluster and generation and expires when its parent does, in the
// one statement that creates it, so a rotation racing it cannot leave it a
// longer life. created reports whether this call made it; ErrNotFound
// means there is no parent.
func (s *Store) RegistrationChild(ctx context.Context, parentID string, child RegistrationToken) (RegistrationToken, bool, error) {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO registration_tokens (id, cluster_id, kind, salt, hash, created_at, expires_at, parent_id, generation)
		 SELECT ?, cluster_id, ?, ?, ?, ?, expires_at, id, generation FROM registration_tokens WHERE id = ?
		 ON CONFLICT DO NOTHING`,
		child.ID, child.Kind, child.Hashed.Salt, child.Hashed.Hash, unix(child.CreatedAt), parentID)
	if err = mapErr(err); err != nil {
		return RegistrationToken{}, false, fmt.Errorf("create %s child of registration token %q: %w", child.Kind, parentID, err)
	}
	n, _ := res.RowsAffected()
	r, err := scanRegistration(s.db.QueryRowContext(ctx,
		`SELECT `+registrationCols+` FROM registration_tokens r WHERE parent_id = ? AND kind = ?`, parentID, child.Kind))
	if err != nil {
		return RegistrationToken{}, false, fmt.Errorf("%s child of registration token %q: %w", child.Kind, parentID, err)
	}
	return r, n == 1 && r.ID == child.ID, nil
}

const registrationCols = `r.id, r.cluster_id, r.kind, r.salt, r.hash, r.created_at, r.expires_at, r.parent_id, r.generation,
	r.generation < (SELECT MAX(m.generation) FROM registration_tokens m WHERE m.cluster_id = r.cluster_id)`

func scanRegistration(row interface{ Scan(...any) error }) (RegistrationToken, error) {
	var r RegistrationToken
	var salt, hash []byte
	var created, expires int64
	if err := row.Scan(&r.ID, &r.ClusterID, &r.Kind, &salt, &hash, &created, &expires, &r.ParentID, &r.Generation,
		&r.Superseded); err != nil {
		return RegistrationToken{}, mapErr(err)
	}
	r.Hashed = hashed(salt, hash)
	r.CreatedAt, r.ExpiresAt = fromUnix(created), fromUnix(expires)
	return r, nil
}

// RegistrationToken returns a registration token by id.
func (s *Store) RegistrationToken(ctx context.Context, id string) (RegistrationToken, error) {
	r, err := scanRegistration(s.db.QueryRowContext(ctx,
		`SELECT `+registrationCols+` FROM registration_tokens r WHERE r.id = ?`, id))
	if err != nil {
		return RegistrationToken{}, fmt.Errorf("registration token %q: %w", id, err)
	}
	return r, nil
}

// ListRegistrationTokens returns a cluster's registration tokens, oldest
// generation first, roots before their children.
func (s *Store) ListRegistrationTokens(ctx context.Context, clusterID string) ([]RegistrationToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+registrationCols+` FROM registration_tokens r WHERE r.cluster_id = ?
		ORDER BY r.generation, r.parent_id != '', r.created_at, r.id`, clusterID)
	if err != nil {
		return nil, fmt.Errorf("registration tokens of cluster %q: %w", clusterID, err)
	}
	defer rows.Close()
	var out []RegistrationToken
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, fmt.Errorf("registration tokens of cluster %q: %w", clusterID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SupersedeRegistrations ends every registration token of the cluster of a
// generation earlier than token current's (children included) at until,
// unless it ends sooner already. It returns how many it changed.
func (s *Store) SupersedeRegistrations(ctx context.Context, clusterID, current string, until time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE registration_tokens SET expires_at = ?1
		WHERE cluster_id = ?2 AND (expires_at = 0 OR expires_at > ?1)
		AND generation < (SELECT generation FROM registration_tokens WHERE id = ?3 AND cluster_id = ?2)`,
		unix(until), clusterID, current)
	if err != nil {
		return 0, fmt.Errorf("supersede registration tokens of cluster %q: %w", clusterID, err)
	}
	return res.RowsAffected()
}
