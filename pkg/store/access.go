package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Binding scopes and subject kinds.
const (
	ScopeGlobal  = "global"
	ScopeCluster = "cluster"
	ScopeProject = "project"

	SubjectUser  = "user"
	SubjectGroup = "group"
)

// Binding gives a subject a role in a scope. Package access says which
// roles exist in which scope and what they mean downstream.
type Binding struct {
	ID        string    `json:"id"`
	Scope     string    `json:"scope"`
	ClusterID string    `json:"clusterId,omitempty"` // cluster and project scopes
	ProjectID string    `json:"projectId,omitempty"` // project scope
	Role      string    `json:"role"`
	Kind      string    `json:"subjectKind"` // SubjectUser or SubjectGroup
	Subject   string    `json:"subject"`     // user id or group name
	CreatedAt time.Time `json:"createdAt"`
}

// Project is a named set of namespaces in one cluster.
type Project struct {
	ID         string    `json:"id"`
	ClusterID  string    `json:"clusterId"`
	Name       string    `json:"name"`
	Namespaces []string  `json:"namespaces"`
	CreatedAt  time.Time `json:"createdAt"`
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateBinding inserts a binding; ErrConflict when the same one exists.
func (s *Store) CreateBinding(ctx context.Context, b Binding) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO bindings (id, scope, cluster_id, project_id, role, subject_kind, subject, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.ID, b.Scope, nullable(b.ClusterID), nullable(b.ProjectID), b.Role, b.Kind, b.Subject,
		unix(b.CreatedAt))
	if err = mapErr(err); err != nil {
		return fmt.Errorf("create binding: %w", err)
	}
	return nil
}

const bindingCols = `id, scope, coalesce(cluster_id, ''), coalesce(project_id, ''), role, subject_kind, subject, created_at`

func scanBinding(row interface{ Scan(...any) error }) (Binding, error) {
	var b Binding
	var created int64
	if err := row.Scan(&b.ID, &b.Scope, &b.ClusterID, &b.ProjectID, &b.Role, &b.Kind, &b.Subject, &created); err != nil {
		return Binding{}, mapErr(err)
	}
	b.CreatedAt = fromUnix(created)
	return b, nil
}

// Binding returns a binding by id.
func (s *Store) Binding(ctx context.Context, id string) (Binding, error) {
	b, err := scanBinding(s.db.QueryRowContext(ctx, `SELECT `+bindingCols+` FROM bindings WHERE id = ?`, id))
	if err != nil {
		return Binding{}, fmt.Errorf("binding %q: %w", id, err)
	}
	return b, nil
}

// BindingFilter selects bindings; empty fields match anything.
type BindingFilter struct {
	Scope     string
	ClusterID string
	ProjectID string
}

// ListBindings returns the bindings f selects, oldest first.
func (s *Store) ListBindings(ctx context.Context, f BindingFilter) ([]Binding, error) {
	q := `SELECT ` + bindingCols + ` FROM bindings WHERE 1 = 1`
	var args []any
	if f.Scope != "" {
		q += ` AND scope = ?`
		args = append(args, f.Scope)
	}
	if f.ClusterID != "" {
		q += ` AND cluster_id = ?`
		args = append(args, f.ClusterID)
	}
	if f.ProjectID != "" {
		q += ` AND project_id = ?`
		args = append(args, f.ProjectID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	defer rows.Close()
	var out []Binding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, fmt.Errorf("list bindings: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteBinding removes a binding.
func (s *Store) DeleteBinding(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "bindings", id)
}

// memberExpr is true when the user ?1 holds any binding in cluster ?2
// (cluster or project scope), directly or through a group.
const memberExpr = `EXISTS (SELECT 1 FROM bindings b WHERE b.cluster_id = c.id AND
	((b.subject_kind = 'user' AND b.subject = ?1) OR
	 (b.subject_kind = 'group' AND b.subject IN (SELECT grp FROM user_groups g WHERE g.user_id = ?1))))`

// IsClusterMember reports whether a user holds any binding in a cluster or
// one of its projects, directly or through one of its stored groups.
func (s *Store) IsClusterMember(ctx context.Context, userID, clusterID string) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT `+memberExpr+` FROM clusters c WHERE c.id = ?2`, userID, clusterID).Scan(&ok)
	if err = mapErr(err); err != nil {
		return false, fmt.Errorf("membership of %q in cluster %q: %w", userID, clusterID, err)
	}
	return ok, nil
}

// MemberClusterIDs returns the ids of the clusters a user is a member of.
func (s *Store) MemberClusterIDs(ctx context.Context, userID string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.id FROM clusters c WHERE `+memberExpr, userID)
	if err != nil {
		return nil, fmt.Errorf("clusters of %q: %w", userID, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clusters of %q: %w", userID, err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// CallerBindings returns the bindings a user holds in a cluster (cluster
// and project scope), directly or through one of its stored groups, oldest
// first.
func (s *Store) CallerBindings(ctx context.Context, userID, clusterID string) ([]Binding, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+bindingCols+` FROM bindings WHERE cluster_id = ?2 AND
		((subject_kind = 'user' AND subject = ?1) OR
		 (subject_kind = 'group' AND subject IN (SELECT grp FROM user_groups g WHERE g.user_id = ?1)))
		ORDER BY created_at, id`, userID, clusterID)
	if err != nil {
		return nil, fmt.Errorf("bindings of %q in cluster %q: %w", userID, clusterID, err)
	}
	defer rows.Close()
	var out []Binding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, fmt.Errorf("bindings of %q in cluster %q: %w", userID, clusterID, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// CreateProject inserts a project; ErrConflict when the name or one of its
// namespaces is taken in the cluster.
func (s *Store) CreateProject(ctx context.Context, p Project) error {
	return s.tx(ctx, fmt.Sprintf("create project %q", p.Name), func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO projects (id, cluster_id, name, namespaces, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.ClusterID, p.Name, strings.Join(p.Namespaces, "\n"), unix(p.CreatedAt)); err != nil {
			return err
		}
		return claimNamespaces(ctx, tx, p.ID, p.ClusterID, p.Namespaces)
	})
}

// claimNamespaces makes namespaces exactly the project's claimed ones.
func claimNamespaces(ctx context.Context, tx *txn, projectID, clusterID string, namespaces []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM project_namespaces WHERE project_id = ?`, projectID); err != nil {
		return err
	}
	for _, ns := range namespaces {
		if _, err := tx.ExecContext(ctx, `INSERT INTO project_namespaces (project_id, cluster_id, namespace) VALUES (?, ?, ?)`,
			projectID, clusterID, ns); err != nil {
			return fmt.Errorf("namespace %q: %w", ns, err)
		}
	}
	return nil
}

const projectCols = `id, cluster_id, name, namespaces, created_at`

func scanProject(row interface{ Scan(...any) error }) (Project, error) {
	var p Project
	var ns string
	var created int64
	if err := row.Scan(&p.ID, &p.ClusterID, &p.Name, &ns, &created); err != nil {
		return Project{}, mapErr(err)
	}
	p.Namespaces = []string{}
	if ns != "" {
		p.Namespaces = strings.Split(ns, "\n")
	}
	p.CreatedAt = fromUnix(created)
	return p, nil
}

// Project returns a project by id.
func (s *Store) Project(ctx context.Context, id string) (Project, error) {
	p, err := scanProject(s.db.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = ?`, id))
	if err != nil {
		return Project{}, fmt.Errorf("project %q: %w", id, err)
	}
	return p, nil
}

// ListProjects returns a cluster's projects (every project when clusterID
// is empty), by name.
func (s *Store) ListProjects(ctx context.Context, clusterID string) ([]Project, error) {
	q, args := `SELECT `+projectCols+` FROM projects`, []any{}
	if clusterID != "" {
		q += ` WHERE cluster_id = ?`
		args = append(args, clusterID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	var out []Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetProjectNamespaces replaces a project's namespaces; ErrConflict when
// one belongs to another project of the cluster.
func (s *Store) SetProjectNamespaces(ctx context.Context, id string, namespaces []string) error {
	return s.tx(ctx, fmt.Sprintf("update project %q", id), func(tx *txn) error {
		var clusterID string
		if err := tx.QueryRowContext(ctx, `SELECT cluster_id FROM projects WHERE id = ?`, id).Scan(&clusterID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET namespaces = ? WHERE id = ?`, strings.Join(namespaces, "\n"), id); err != nil {
			return err
		}
		return claimNamespaces(ctx, tx, id, clusterID, namespaces)
	})
}

// DeleteProject removes a project and, by cascade, its bindings.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "projects", id)
}

// AuthProvider is a configured auth provider; Config is sealed by the
// caller (it holds bind passwords and client secrets).
type AuthProvider struct {
	Name      string
	Type      string
	Config    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SaveAuthProvider inserts or replaces a provider's configuration.
func (s *Store) SaveAuthProvider(ctx context.Context, p AuthProvider) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_providers (name, type, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET type = excluded.type, config = excluded.config, updated_at = excluded.updated_at`,
		p.Name, p.Type, p.Config, unix(p.CreatedAt), unix(p.UpdatedAt))
	if err = mapErr(err); err != nil {
		return fmt.Errorf("save auth provider %q: %w", p.Name, err)
	}
	return nil
}

func scanAuthProvider(row interface{ Scan(...any) error }) (AuthProvider, error) {
	var p AuthProvider
	var created, updated int64
	if err := row.Scan(&p.Name, &p.Type, &p.Config, &created, &updated); err != nil {
		return AuthProvider{}, mapErr(err)
	}
	p.CreatedAt, p.UpdatedAt = fromUnix(created), fromUnix(updated)
	return p, nil
}

// AuthProvider returns a provider's configuration.
func (s *Store) AuthProvider(ctx context.Context, name string) (AuthProvider, error) {
	p, err := scanAuthProvider(s.db.QueryRowContext(ctx,
		`SELECT name, type, config, created_at, updated_at FROM auth_providers WHERE name = ?`, name))
	if err != nil {
		return AuthProvider{}, fmt.Errorf("auth provider %q: %w", name, err)
	}
	return p, nil
}

// ListAuthProviders returns every configured provider by name.
func (s *Store) ListAuthProviders(ctx context.Context) ([]AuthProvider, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, type, config, created_at, updated_at FROM auth_providers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list auth providers: %w", err)
	}
	defer rows.Close()
	var out []AuthProvider
	for rows.Next() {
		p, err := scanAuthProvider(rows)
		if err != nil {
			return nil, fmt.Errorf("list auth providers: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
