package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	Provider   string `json:"provider"`
	ExternalID string `json:"externalId,omitempty"`
	// Login is the provider's current name for an external user. Username
	// is "<provider>:<login at creation>" and never changes: it is the
	// Kubernetes identity downstream RBAC names.
	Login       string `json:"login,omitempty"`
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

const userCols = `u.id, u.username, ` + adminExpr + `, u.created_at, u.provider, u.external_id, u.login, u.display_name,
	u.groups_at, u.disabled, (SELECT string_agg(grp, '
' ORDER BY grp) FROM user_groups g WHERE g.user_id = u.id)`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var created, groupsAt int64
	var groups sql.NullString
	dest := append([]any{&u.ID, &u.Username, &u.Admin, &created, &u.Provider, &u.ExternalID, &u.Login, &u.DisplayName,
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
	return s.tx(ctx, fmt.Sprintf("create user %q", u.Username), func(tx *txn) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, username, password_hash, created_at, provider, external_id, login, display_name, groups_at, disabled)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, passwordHash, unix(u.CreatedAt), u.Provider, u.ExternalID, u.Login, u.DisplayName,
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

// ErrProviderGone: an external user was written for an auth provider that
// is not configured (any more).
var ErrProviderGone = errors.New("auth provider not configured")

// CreateExternalUser inserts a user an auth provider vouches for, with its
// groups and sealed refresh credential (nil: none), in one transaction that
// fails with ErrProviderGone when u.Provider is not a configured provider:
// a login racing the provider's deletion does not leave an enabled user
// behind.
func (s *Store) CreateExternalUser(ctx context.Context, u User, refresh []byte) error {
	if u.Provider == LocalProvider || u.Provider == "" || u.ExternalID == "" {
		return fmt.Errorf("create user %q: an external user needs a provider and an external id", u.Username)
	}
	return s.tx(ctx, fmt.Sprintf("create user %q", u.Username), func(tx *txn) error {
		// One statement, writing first: no read lock to upgrade.
		res, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, username, password_hash, created_at, provider, external_id, login, display_name, groups_at, refresh)
			 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM auth_providers WHERE name = ?)`,
			u.ID, u.Username, []byte{}, unix(u.CreatedAt), u.Provider, u.ExternalID, u.Login, u.DisplayName, unix(u.GroupsAt),
			refresh, u.Provider)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%q: %w", u.Provider, ErrProviderGone)
		}
		return setGroups(ctx, tx, u.ID, u.Groups)
	})
}

func setGroups(ctx context.Context, tx *txn, userID string, groups []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, grp) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, g); err != nil {
			return err
		}
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

// UpdateExternalUser records what a provider said about an enabled user at
// a login or a refresh: login, display name, groups (replacing the old
// ones), when, and the sealed refresh credential (nil keeps the stored
// one). The username is never changed: it is fixed when the user is
// created. A missing or disabled user is ErrNotFound: a login or refresh
// racing a disable does not write over it.
func (s *Store) UpdateExternalUser(ctx context.Context, u User, refresh []byte) error {
	return s.tx(ctx, fmt.Sprintf("update user %q", u.ID), func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET login = ?, display_name = ?, groups_at = ?,
			refresh = CASE WHEN ? = 1 THEN ? ELSE refresh END WHERE id = ? AND provider != 'local' AND disabled = 0`,
			u.Login, u.DisplayName, unix(u.GroupsAt), refresh != nil, refresh, u.ID)
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
// read before cutoff and whose last refresh attempt, if any, was before
// cutoff too, at most limit: those never tried or tried longest ago first,
// so that users whose refresh keeps failing go to the back of the queue.
func (s *Store) UsersToRefresh(ctx context.Context, provider string, cutoff time.Time, limit int) ([]User, error) {
	return s.listUsers(ctx, `SELECT `+userCols+` FROM users u WHERE u.provider = ? AND u.disabled = 0
		AND u.groups_at < ? AND u.refresh_attempted_at < ?
		ORDER BY u.refresh_attempted_at, u.groups_at, u.id LIMIT ?`, provider, unix(cutoff), unix(cutoff), limit)
}

// RefreshAttempted records that a refresh of the user was tried at at,
// whatever came of it.
func (s *Store) RefreshAttempted(ctx context.Context, id string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET refresh_attempted_at = ? WHERE id = ?`, unix(at), id); err != nil {
		return fmt.Errorf("record refresh attempt of %q: %w", id, mapErr(err))
	}
	return nil
}

// DropStaleGroups removes, in one statement, the groups of every external
// user whose groups were last read before cutoff, and returns those users'
// ids. Groups a provider has not confirmed for that long (it is down, it
// gave nothing to refresh with, the user never came back) stop granting
// access; a login or a refresh restores them.
func (s *Store) DropStaleGroups(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM user_groups WHERE user_id IN
		(SELECT id FROM users WHERE provider != 'local' AND groups_at < ?) RETURNING user_id`, unix(cutoff))
	if err != nil {
		return nil, fmt.Errorf("drop stale groups: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("drop stale groups: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("drop stale groups: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// SetUserDisabled disables or enables a user. Disabling also deletes every
// token of the user (login sessions, API and kubeconfig tokens), so that
// enabling the user again does not bring old credentials back; it returns
// the ids of the tokens it deleted, for the caller to drop from caches.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool) ([]string, error) {
	return s.UpdateUser(ctx, id, UserChange{Disabled: &disabled})
}

// UserChange is what an admin, or the user itself, changes of a user; nil
// fields stay.
type UserChange struct {
	// Disabled disables (deleting every token of the user) or enables.
	Disabled *bool
	// PasswordHash replaces a local user's password hash and deletes the
	// user's login sessions (but KeepToken).
	PasswordHash []byte
	// RevokeTokens deletes every token of the user, of any kind (but
	// KeepToken).
	RevokeTokens bool
	// KeepToken is a token of the user that PasswordHash and RevokeTokens
	// spare: the one the user changes its own password with. Disabling
	// spares nothing.
	KeepToken string
}

// UpdateUser applies c in one transaction: all of it or, on any error,
// none. It returns the ids of the tokens it deleted. A missing user is
// ErrNotFound, and so is a password for an external user (it has none).
func (s *Store) UpdateUser(ctx context.Context, id string, c UserChange) ([]string, error) {
	var deleted []string
	err := s.tx(ctx, fmt.Sprintf("update user %q", id), func(tx *txn) error {
		deleted = nil
		// Writes first (no read lock to upgrade); no row is ErrNotFound.
		update := func(q string, args ...any) error {
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrNotFound
			}
			return nil
		}
		if c.PasswordHash != nil {
			if err := update(`UPDATE users SET password_hash = ? WHERE id = ? AND provider = 'local'`, c.PasswordHash, id); err != nil {
				return err
			}
			ids, err := deleteTokens(ctx, tx, `user_id = ? AND kind = ? AND id != ?`, id, KindSession, c.KeepToken)
			if err != nil {
				return err
			}
			deleted = append(deleted, ids...)
		}
		if c.RevokeTokens {
			ids, err := deleteTokens(ctx, tx, `user_id = ? AND id != ?`, id, c.KeepToken)
			if err != nil {
				return err
			}
			deleted = append(deleted, ids...)
		}
		if c.Disabled != nil {
			if err := update(`UPDATE users SET disabled = ? WHERE id = ?`, *c.Disabled, id); err != nil {
				return err
			}
			if *c.Disabled {
				ids, err := deleteTokens(ctx, tx, `user_id = ?`, id)
				if err != nil {
					return err
				}
				deleted = append(deleted, ids...)
			}
		}
		if c.Disabled == nil && c.PasswordHash == nil {
			return update(`UPDATE users SET id = id WHERE id = ?`, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(deleted)
	return slices.Compact(deleted), nil
}

// deleteTokens deletes the tokens matching where and returns their ids,
// sorted.
//
// It is the one place tokens are deleted, and the one owner of the rule
// that a token ends with the token it was minted with (its parent_id): the
// tokens minted with a deleted token go too, and theirs, to any depth. The
// exception is a kubeconfig downloaded in a login session (POST
// /v3/kubeconfig): a file handed to a script or a colleague lives its own
// TTL, and logging out of the session it came from does not end it; its
// parent only makes the next download replace it (ReplaceToken).
func deleteTokens(ctx context.Context, tx *txn, where string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM tokens WHERE id IN (
		WITH RECURSIVE doomed(id, kind) AS (
			SELECT id, kind FROM tokens WHERE `+where+`
			UNION
			SELECT t.id, t.kind FROM tokens t JOIN doomed d ON t.parent_id = d.id
			WHERE t.parent_id != '' AND NOT (d.kind = '`+KindSession+`' AND t.kind = '`+KindKubeconfig+`')
		) SELECT id FROM doomed) RETURNING id`, args...)
	if err != nil {
		return nil, err
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
	slices.Sort(ids)
	return ids, rows.Err()
}

// SetPassword replaces a local user's password hash and deletes the user's
// login sessions: whoever logged in with the old password must do so again.
func (s *Store) SetPassword(ctx context.Context, id string, hash []byte) error {
	if hash == nil {
		hash = []byte{}
	}
	_, err := s.UpdateUser(ctx, id, UserChange{PasswordHash: hash})
	return err
}

// ProviderRemoval is what RemoveAuthProvider did.
type ProviderRemoval struct {
	// DisabledUsers are the ids of the provider's users it disabled (those
	// disabled before are not counted).
	DisabledUsers []string
	// Tokens are the ids of the tokens it deleted: every token of every
	// user of the provider.
	Tokens []string
}

// RemoveAuthProvider deletes a provider's configuration and, in the same
// transaction, disables its users and deletes every token they hold: an
// identity provider that is gone can no longer vouch for anyone, and a
// login that races the removal either sees the provider gone or is undone
// with the rest. A missing provider is ErrNotFound and changes nothing.
func (s *Store) RemoveAuthProvider(ctx context.Context, name string) (ProviderRemoval, error) {
	var out ProviderRemoval
	err := s.tx(ctx, fmt.Sprintf("remove auth provider %q", name), func(tx *txn) error {
		out = ProviderRemoval{}
		res, err := tx.ExecContext(ctx, `DELETE FROM auth_providers WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if out.Tokens, err = deleteTokens(ctx, tx, `user_id IN (SELECT id FROM users WHERE provider = ?)`, name); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE users SET disabled = 1 WHERE provider = ? AND disabled = 0 RETURNING id`, name)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out.DisabledUsers = append(out.DisabledUsers, id)
		}
		return rows.Err()
	})
	if err != nil {
		return ProviderRemoval{}, err
	}
	slices.Sort(out.DisabledUsers)
	slices.Sort(out.Tokens)
	return out, nil
}

// DeleteUser removes a user with its tokens and bindings.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "users", id)
}
