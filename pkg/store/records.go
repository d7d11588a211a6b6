package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/drover-dev/drover/pkg/token"
)

// Token kinds.
const (
	KindSession    = "session"
	KindKubeconfig = "kubeconfig"
	KindAPI        = "api"
	// KindPlugin is a short-lived cluster token minted from a login
	// session for the drover credential plugin; KindPluginACE the longer
	// one the plugin hands out for the cluster's authorized endpoint while
	// Drover is down. Both end with their session.
	KindPlugin    = "plugin"
	KindPluginACE = "plugin-ace"
)

// Token is a user's bearer token, as stored.
type Token struct {
	ID        string
	UserID    string
	Kind      string
	ClusterID string // empty: not scoped to a cluster
	// ParentID is the token this one was minted with, if it was minted
	// with a token rather than a login session.
	ParentID    string
	Description string
	Hashed      token.Hashed
	CreatedAt   time.Time
	ExpiresAt   time.Time
	LastUsedAt  time.Time
}

// Cluster is a downstream cluster known to Drover.
type Cluster struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// AuthEndpointURL and AuthEndpointCA locate the cluster's authorized
	// endpoint (its apiserver, reached directly); empty when not enabled.
	AuthEndpointURL string
	AuthEndpointCA  string
	// AgentEndpoint and AgentCA are the apiserver endpoint (host:port) and
	// CA bundle the cluster agent last reported; empty until one connected.
	AgentEndpoint string
	AgentCA       string
}

// ReplaceToken inserts t (t.ParentID set) and deletes, in the same
// transaction, the user's other tokens of t's kind, cluster and parent but
// the keep newest: a client that asks again through the same credential
// gets a new token in place of the old ones, not one more. A client that
// hands its token to other processes keeps the one before (keep 1), which
// they may still hold until its expiry. It returns the ids deleted.
func (s *Store) ReplaceToken(ctx context.Context, t Token, keep int) ([]string, error) {
	if t.ParentID == "" {
		return nil, errors.New("replace token: no parent")
	}
	var gone []string
	err := s.tx(ctx, "replace token", func(tx *txn) error {
		// Write first (deleteTokens: DELETE … RETURNING): a read before the
		// first write would have to upgrade its lock, which SQLite refuses
		// while another connection writes.
		var err error
		gone, err = deleteTokens(ctx, tx, `user_id = ? AND kind = ? AND cluster_id = ? AND parent_id = ? AND id NOT IN (
			SELECT id FROM tokens WHERE user_id = ? AND kind = ? AND cluster_id = ? AND parent_id = ?
			ORDER BY created_at DESC, id DESC LIMIT ?)`,
			t.UserID, t.Kind, t.ClusterID, t.ParentID, t.UserID, t.Kind, t.ClusterID, t.ParentID, keep)
		if err != nil {
			return err
		}
		return insertToken(ctx, tx, t)
	})
	if err != nil {
		return nil, err
	}
	return gone, nil
}

// CreateToken inserts a user token.
func (s *Store) CreateToken(ctx context.Context, t Token) error {
	if err := mapErr(insertToken(ctx, s.db, t)); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertToken(ctx context.Context, db execer, t Token) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO tokens (id, user_id, kind, cluster_id, parent_id, description, salt, hash, created_at, expires_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Kind, t.ClusterID, t.ParentID, t.Description, t.Hashed.Salt, t.Hashed.Hash,
		unix(t.CreatedAt), unix(t.ExpiresAt))
	return err
}

const tokenCols = `id, user_id, kind, cluster_id, parent_id, description, salt, hash, created_at, expires_at, last_used_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var salt, hash []byte
	var created, expires, used int64
	if err := row.Scan(&t.ID, &t.UserID, &t.Kind, &t.ClusterID, &t.ParentID, &t.Description, &salt, &hash,
		&created, &expires, &used); err != nil {
		return Token{}, mapErr(err)
	}
	t.Hashed = hashed(salt, hash)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromUnix(created), fromUnix(expires), fromUnix(used)
	return t, nil
}

// Token returns a user token by id.
func (s *Store) Token(ctx context.Context, id string) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ?`, id))
	if err != nil {
		return Token{}, fmt.Errorf("token %q: %w", id, err)
	}
	return t, nil
}

// CountLiveTokens returns how many unexpired tokens a user holds (sessions
// included).
func (s *Store) CountLiveTokens(ctx context.Context, userID string, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE user_id = ? AND (expires_at = 0 OR expires_at > ?)`,
		userID, unix(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tokens of %q: %w", userID, err)
	}
	return n, nil
}

// ListTokens returns a user's tokens, newest first.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+tokenCols+` FROM tokens WHERE user_id = ? ORDER BY created_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteToken deletes a user token and the tokens minted with it
// (deleteTokens), and returns the ids deleted, id first.
func (s *Store) DeleteToken(ctx context.Context, id string) ([]string, error) {
	var gone []string
	err := s.tx(ctx, fmt.Sprintf("delete token %q", id), func(tx *txn) error {
		var err error
		gone, err = deleteTokens(ctx, tx, `id = ?`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(gone, id) {
		return nil, fmt.Errorf("delete token %q: %w", id, ErrNotFound)
	}
	gone = slices.DeleteFunc(gone, func(g string) bool { return g == id })
	return append([]string{id}, gone...), nil
}

// DeleteExpiredTokens removes tokens that expired before now, and the
// tokens minted with them, and returns how many went.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, "delete expired tokens", func(tx *txn) error {
		gone, err := deleteTokens(ctx, tx, `expires_at > 0 AND expires_at < ?`, unix(now))
		n = int64(len(gone))
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// TouchToken records when a token was last used.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, unix(at), id)
	if err != nil {
		return fmt.Errorf("touch token %q: %w", id, err)
	}
	return nil
}

// CreateCluster inserts a cluster.
func (s *Store) CreateCluster(ctx context.Context, c Cluster) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO clusters (id, name, created_at) VALUES (?, ?, ?)`,
		c.ID, c.Name, unix(c.CreatedAt))
	if err = mapErr(err); err != nil {
		return fmt.Errorf("create cluster %q: %w", c.Name, err)
	}
	return nil
}

const clusterCols = `id, name, created_at, ace_url, ace_ca, agent_endpoint, agent_ca`

func scanCluster(row interface{ Scan(...any) error }) (Cluster, error) {
	var c Cluster
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &created, &c.AuthEndpointURL, &c.AuthEndpointCA, &c.AgentEndpoint, &c.AgentCA); err != nil {
		return Cluster{}, mapErr(err)
	}
	c.CreatedAt = fromUnix(created)
	return c, nil
}

// Cluster returns a cluster by id.
func (s *Store) Cluster(ctx context.Context, id string) (Cluster, error) {
	c, err := scanCluster(s.db.QueryRowContext(ctx, `SELECT `+clusterCols+` FROM clusters WHERE id = ?`, id))
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster %q: %w", id, err)
	}
	return c, nil
}

// SetAgentEndpoint records the apiserver endpoint and CA a cluster agent
// reported.
func (s *Store) SetAgentEndpoint(ctx context.Context, clusterID, endpoint string, ca []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE clusters SET agent_endpoint = ?, agent_ca = ? WHERE id = ?`, endpoint, string(ca), clusterID)
	if err = mapErr(err); err != nil {
		return fmt.Errorf("record agent endpoint of cluster %q: %w", clusterID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record agent endpoint of cluster %q: %w", clusterID, ErrNotFound)
	}
	return nil
}

// ListClusters returns every cluster ordered by name.
func (s *Store) ListClusters(ctx context.Context) ([]Cluster, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+clusterCols+` FROM clusters ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	defer rows.Close()
	var out []Cluster
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, fmt.Errorf("list clusters: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetAuthEndpoint records (or, with empty values, clears) a cluster's
// authorized endpoint.
func (s *Store) SetAuthEndpoint(ctx context.Context, id, url, caPEM string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE clusters SET ace_url = ?, ace_ca = ? WHERE id = ?`, url, caPEM, id)
	if err != nil {
		return fmt.Errorf("set auth endpoint of cluster %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("cluster %q: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteCluster is RemoveCluster for callers that need not know which
// tokens went.
func (s *Store) DeleteCluster(ctx context.Context, id string) error {
	_, err := s.RemoveCluster(ctx, id)
	return err
}

// ClusterRemoval is what RemoveCluster deleted besides the cluster.
type ClusterRemoval struct {
	// Tokens are the ids of the user tokens scoped to the cluster, sorted.
	Tokens []string
}

// RemoveCluster deletes a cluster and, in the same transaction, every user
// token scoped to it; its registration tokens, status, provisioning state,
// projects and bindings go by cascade. The caller makes the deleted tokens
// leave its caches. A missing cluster is ErrNotFound and changes nothing.
func (s *Store) RemoveCluster(ctx context.Context, id string) (ClusterRemoval, error) {
	var out ClusterRemoval
	err := s.tx(ctx, fmt.Sprintf("delete cluster %q", id), func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clusters WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		out.Tokens, err = deleteTokens(ctx, tx, `cluster_id = ?`, id)
		return err
	})
	if err != nil {
		return ClusterRemoval{}, err
	}
	slices.Sort(out.Tokens)
	return out, nil
}

func (s *Store) deleteByID(ctx context.Context, table, id string) error {
	var res sql.Result
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", table, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete %s %q: %w", table, id, ErrNotFound)
	}
	return nil
}

// SaveClusterStatus stores a cluster's last gathered status (JSON).
func (s *Store) SaveClusterStatus(ctx context.Context, clusterID string, status []byte, at time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO cluster_status (cluster_id, status, updated_at) VALUES (?, ?, ?)
		 ON CONFLICT(cluster_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
		clusterID, string(status), unix(at))
	if err = mapErr(err); err != nil {
		return fmt.Errorf("save status of cluster %q: %w", clusterID, err)
	}
	return nil
}

// ClusterStatus returns a cluster's last stored status and when it was taken.
func (s *Store) ClusterStatus(ctx context.Context, clusterID string) ([]byte, time.Time, error) {
	var status string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT status, updated_at FROM cluster_status WHERE cluster_id = ?`, clusterID).
		Scan(&status, &at)
	if err = mapErr(err); err != nil {
		return nil, time.Time{}, fmt.Errorf("status of cluster %q: %w", clusterID, err)
	}
	return []byte(status), fromUnix(at), nil
}

// ScopedToken is a cluster-scoped token with its owner.
type ScopedToken struct {
	Token
	User User
}

// ClusterScopedTokens returns the unexpired tokens scoped to a cluster, with
// their users: what the cluster's authorized endpoint must know.
func (s *Store) ClusterScopedTokens(ctx context.Context, clusterID string, now time.Time) ([]ScopedToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens
		WHERE cluster_id = ? AND (expires_at = 0 OR expires_at > ?) ORDER BY id`, clusterID, unix(now))
	if err != nil {
		return nil, fmt.Errorf("tokens of cluster %q: %w", clusterID, err)
	}
	var toks []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("tokens of cluster %q: %w", clusterID, err)
		}
		toks = append(toks, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tokens of cluster %q: %w", clusterID, err)
	}
	users := map[string]User{}
	out := make([]ScopedToken, 0, len(toks))
	for _, t := range toks {
		u, ok := users[t.UserID]
		if !ok {
			if u, err = s.UserByID(ctx, t.UserID); err != nil {
				return nil, fmt.Errorf("tokens of cluster %q: %w", clusterID, err)
			}
			users[t.UserID] = u
		}
		if u.Disabled {
			continue
		}
		out = append(out, ScopedToken{Token: t, User: u})
	}
	return out, nil
}
