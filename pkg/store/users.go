package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// LocalProvider is the Provider of users Drover keeps passwords for.
const LocalProvider = "local"

// User is a Drover user.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	// Admin is the effective global role: a global admin binding to the
	// user or to one of its groups. CreateUser with Admin set adds one.
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"createdAt"`
	// Provider is LocalProvider or the name of the auth provider that
	// vouches for the user; ExternalID is the provider's stable id.
	Provider    string `json:"provider"`
	ExternalID  string `json:"externalId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// Groups are the provider's groups, prefixed with its name, sorted.
	Groups []string `json:"groups,omitempty"`
	// GroupsAt is when Groups were last read from the provider.
	GroupsAt time.Time `json:"groupsRefreshedAt,omitzero"`
	// Disabled users cannot log in and their tokens are refused.
	Disabled bool `json:"disabled"`
}

// adminExpr is true when the user aliased u holds a global admin binding,
// directly or through a group.
const adminExpr = `EXISTS (SELECT 1 FROM bindings b WHERE b.scope = 'global' AND b.role = 'admin' AND
	((b.subject_kind = 'user' AND b.subject = u.id) OR
	 (b.subject_kind = 'group' AND b.subject IN (SELECT grp FROM user_groups g WHERE g.user_id = u.id))))`

const userCols = `u.id, u.username, ` + adminExpr + `, u.created_at, u.provider, u.external_id, u.display_name,
	u.groups_at, u.disabled, (SELECT group_concat(grp, char(10)) FROM (SELECT grp FROM user_groups g WHERE g.user_id = u.id ORDER BY grp))`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var created, groupsAt int64
	var groups sql.NullString
	dest := append([]any{&u.ID, &u.Username, &u.Admin, &created, &u.Provider, &u.ExternalID, &u.DisplayName,
		&groupsAt, &u.Disabled, &groups}, extra...)
	if err := row.Scan(dest...); err != nil {
		return User{}, mapErr(err)
	}
	u.CreatedAt, u.GroupsAt = fromUnix(created), fromUnix(groupsAt)
	if groups.String != "" {
		u.Groups = strings.Split(groups.String, "\n")
	}
	return u, nil
}

// CreateUser inserts a user with its password hash (nil for external
// users), its groups, and a global admin binding when u.Admin is set.
func (s *Store) CreateUser(ctx context.Context, u User, passwordHash []byte) error {
	if u.Provider == "" {
		u.Provider = LocalProvider
	}
	if passwordHash == nil {
		passwordHash = []byte{}
	}
	return s.tx(ctx, fmt.Sprintf("create user %q", u.Username), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, username, password_hash, created_at, provider, external_id, display_name, groups_at, disabled)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, passwordHash, unix(u.CreatedAt), u.Provider, u.ExternalID, u.DisplayName,
			unix(u.GroupsAt), u.Disabled); err != nil {
			return err
		}
		if err := setGroups(ctx, tx, u.ID, u.Groups); err != nil {
			return err
		}
		if u.Admin {
			_, err := tx.ExecContext(ctx, `INSERT INTO bindings (id, scope, role, subject_kind, subject, created_at)
				VALUES (?, 'global', 'admin', 'user', ?, ?)`, "b-admin-"+u.ID, u.ID, unix(u.CreatedAt))
			return err
		}
		return nil
	})
}

func setGroups(ctx context.Context, tx *sql.Tx, userID string, groups []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_groups (user_id, grp) VALUES (?, ?)`, userID, g); err != nil {
			return err
		}
	}
	return nil
}

// tx runs f in a transaction, mapping its error and naming what failed.
func (s *Store) tx(ctx context.Context, what string, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("%s: %w", what, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, mapErr(err))
	}
	return nil
}

// UserByUsername returns a local user and its password hash.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, []byte, error) {
	var hash []byte
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userCols+`, u.password_hash FROM users u WHERE u.username = ? AND u.provider = 'local'`, username), &hash)
	if err != nil {
		return User{}, nil, fmt.Errorf("user %q: %w", username, err)
	}
	return u, hash, nil
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = ?`, id))
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", id, err)
	}
	return u, nil
}

// UserByExternalID returns the user a provider knows by externalID.
func (s *Store) UserByExternalID(ctx context.Context, provider, externalID string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users u WHERE u.provider = ? AND u.external_id = ?`, provider, externalID))
	if err != nil {
		return User{}, fmt.Errorf("user %s/%s: %w", provider, externalID, err)
	}
	return u, nil
}

// ListUsers returns every user, ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	return s.listUsers(ctx, `SELECT `+userCols+` FROM users u ORDER BY u.username`)
}

func (s *Store) listUsers(ctx context.Context, q string, args ...any) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateExternalUser records what a provider said about a user at a login
// or a refresh: names, groups (replacing the old ones), when, and the
// sealed refresh credential (nil keeps the stored one).
func (s *Store) UpdateExternalUser(ctx context.Context, u User, refresh []byte) error {
	return s.tx(ctx, fmt.Sprintf("update user %q", u.ID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, display_name = ?, groups_at = ?,
			refresh = CASE WHEN ? THEN ? ELSE refresh END WHERE id = ?`,
			u.Username, u.DisplayName, unix(u.GroupsAt), refresh != nil, refresh, u.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return setGroups(ctx, tx, u.ID, u.Groups)
	})
}

// UserRefresh returns the sealed refresh credential stored for a user (nil
// when there is none).
func (s *Store) UserRefresh(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	if err := s.db.QueryRowContext(ctx, `SELECT refresh FROM users WHERE id = ?`, id).Scan(&b); err != nil {
		return nil, fmt.Errorf("user %q: %w", id, mapErr(err))
	}
	return b, nil
}

// UsersToRefresh returns the enabled users of provider whose groups were
// read before cutoff, oldest first, at most limit.
func (s *Store) UsersToRefresh(ctx context.Context, provider string, cutoff time.Time, limit int) ([]User, error) {
	return s.listUsers(ctx, `SELECT `+userCols+` FROM users u WHERE u.provider = ? AND u.disabled = 0 AND u.groups_at < ?
		ORDER BY u.groups_at LIMIT ?`, provider, unix(cutoff), limit)
}

// SetUserDisabled disables or enables a user. Disabling also deletes the
// user's login sessions.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	return s.tx(ctx, fmt.Sprintf("disable user %q", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, disabled, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if disabled {
			_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND kind = ?`, id, KindSession)
		}
		return err
	})
}

// SetPassword replaces a local user's password hash and deletes the user's
// login sessions: whoever logged in with the old password must do so again.
func (s *Store) SetPassword(ctx context.Context, id string, hash []byte) error {
	return s.tx(ctx, fmt.Sprintf("set password of %q", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND provider = 'local'`, hash, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND kind = ?`, id, KindSession)
		return err
	})
}

// DeleteUser removes a user with its tokens and bindings.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "users", id)
}
