package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/drover-dev/drover/pkg/token"
)

var (
	// ErrNotFound means no row has that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique name or id is taken.
	ErrConflict = errors.New("already exists")
)

// Store is the SQLite-backed store. It is safe for concurrent use.
type Store struct {
	db *db
}

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(4)
	sqlDB.SetMaxIdleConns(4) // keep them: reopening costs more than the query
	s := &Store{db: &db{DB: sqlDB, dialect: dialectSQLite}}
	if err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// privateFiles makes the database file the server's alone (0600) before
// SQLite opens it: SQLite would make it 0644, and gives its -wal and -shm
// files the database file's mode. Files an older server left get 0600 too.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("database %s: %w", p, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Stats are the database connection pool's figures, for the metrics.
func (s *Store) Stats() sql.DBStats { return s.db.Stats() }

// migrate brings the schema to the latest version of the store's
// dialect.
func (s *Store) migrate(ctx context.Context) error {
	if s.db.dialect == dialectPostgres {
		return s.migratePostgres(ctx)
	}
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(sqliteMigrations) {
		return fmt.Errorf("database schema version %d is newer than this server (%d)", version, len(sqliteMigrations))
	}
	for i := version; i < len(sqliteMigrations); i++ {
		err := s.tx(ctx, fmt.Sprintf("migration %d", i+1), func(tx *txn) error {
			if _, err := tx.ExecContext(ctx, sqliteMigrations[i]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnix(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func hashed(salt, hash []byte) token.Hashed { return token.Hashed{Salt: salt, Hash: hash} }

// txAttempts bounds how often tx runs a transaction that lost to a
// concurrent one (PostgreSQL's serialization failures).
const txAttempts = 16

// tx runs f in a transaction, mapping its error and naming what failed.
// On PostgreSQL a serialization failure runs f again, so f must set (not
// append to) what it returns through its closure.
func (s *Store) tx(ctx context.Context, what string, f func(*txn) error) error {
	var err error
	for attempt := 1; attempt <= txAttempts; attempt++ {
		if err = s.tx1(ctx, f); err == nil || !retryable(err) || attempt == txAttempts {
			break
		}
		// Jittered, growing waits, so that the transactions that collided
		// do not collide again.
		wait := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 7)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, mapErr(err))
	}
	return nil
}

func (s *Store) tx1(ctx context.Context, f func(*txn) error) error {
	tx, err := s.db.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
