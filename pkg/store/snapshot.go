package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
)

// Snapshot writes a consistent copy of the database at path to dst (which
// must not exist), while a server may be writing to it: SQLite's VACUUM
// INTO reads one transaction's view through a read-only connection of its
// own. It migrates nothing.
func Snapshot(ctx context.Context, path, dst string) error {
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("snapshot of %s: %w", path, err)
	}
	return nil
}

// SchemaVersion returns the schema version of the database at path (how
// many migrations ran), read-only.
func SchemaVersion(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version of %s: %w", path, err)
	}
	return v, nil
}

// LatestSchema is the schema version this build migrates to.
func LatestSchema() int { return len(sqliteMigrations) }
