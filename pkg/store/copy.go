package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// copyOrder lists every table of the schema but notCopied, each after the
// tables its foreign keys name (TestCopy checks that none is missing).
var copyOrder = []string{
	"users", "user_groups", "clusters", "tokens", "registration_tokens", "cluster_status",
	"drivers", "cluster_provisioning", "auth_providers", "projects", "project_namespaces", "bindings",
	"service_identity",
}

// notCopied are the tables of running servers: who is alive, which
// tunnels each holds, leases, spent login states and rate limits (all
// short-lived). A copy is made from a stopped server.
var notCopied = []string{"replicas", "cluster_tunnels", "leases", "spent_secrets", "rate_limits"}

// CopyTo copies every row of s, an SQLite store, into dst, an empty
// PostgreSQL store of the same schema version, in one transaction of dst:
// all of it or none. It returns how many rows each table got. Hashes and
// sealed blobs are copied as they are: the keys that made them (the data
// directory's) must go with them.
func (s *Store) CopyTo(ctx context.Context, dst *Store) (map[string]int64, error) {
	if s.db.dialect != dialectSQLite || dst.db.dialect != dialectPostgres {
		return nil, errors.New("copy: from an SQLite store to a PostgreSQL one only")
	}
	// Both were migrated by this build when opened: the same version.
	src, err := s.db.BeginTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	defer src.Rollback() // read only: one consistent view
	counts := map[string]int64{}
	err = dst.tx(ctx, "copy", func(tx *txn) error {
		clear(counts)
		for _, table := range copyOrder {
			var n int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				return fmt.Errorf("the database already holds %d rows in %s: copy into a new, empty database", n, table)
			}
		}
		for _, table := range copyOrder {
			n, err := copyTable(ctx, src, tx, table)
			if err != nil {
				return fmt.Errorf("table %s: %w", table, err)
			}
			counts[table] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// copyTable copies one table's rows, converting each value to the class
// of its PostgreSQL column (SQLite may hold text in a BLOB column).
func copyTable(ctx context.Context, src, dst *txn, table string) (int64, error) {
	types := map[string]string{}
	notNull := map[string]bool{}
	rows, err := dst.QueryContext(ctx, `SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ?`, table)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var c, t string
		var nn bool
		if err := rows.Scan(&c, &t, &nn); err != nil {
			rows.Close()
			return 0, err
		}
		types[c], notNull[c] = t, nn
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}

	rows, err = src.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	for _, c := range cols {
		if types[c] == "" {
			return 0, fmt.Errorf("column %s is not in the PostgreSQL schema", c)
		}
	}
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + `)`
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range cols {
			switch v := vals[i].(type) {
			case nil:
				// SQLite's driver reads an empty BLOB as nil (here and
				// as a nil []byte below).
				if types[c] == "bytea" && notNull[c] {
					vals[i] = []byte{}
				}
			case string:
				if types[c] == "bytea" {
					vals[i] = []byte(v)
				}
			case []byte:
				if types[c] == "text" {
					vals[i] = string(v)
				} else if v == nil && notNull[c] {
					vals[i] = []byte{}
				}
			}
		}
		if _, err := dst.ExecContext(ctx, insert, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
