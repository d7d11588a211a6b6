package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresOptions say which PostgreSQL database to open.
type PostgresOptions struct {
	// URL is a libpq connection URL or keyword/value string. A password in
	// it is used, but callers keep passwords out of argv: see Password.
	URL string
	// Password, when set, is used instead of the URL's (and of PGPASSWORD
	// or a .pgpass file, which pgx reads otherwise).
	Password string
	// MaxConns bounds the connection pool (default 16).
	MaxConns int
	// Logger, when set, is warned about a connection to another machine
	// that does not verify the server's certificate.
	Logger *slog.Logger
}

// OpenPostgres connects to a PostgreSQL database and migrates it. Several
// servers may open the same database at once: migrations run under an
// advisory lock, once.
func OpenPostgres(ctx context.Context, o PostgresOptions) (*Store, error) {
	cfg, err := pgx.ParseConfig(o.URL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, fmt.Errorf("database URL: cannot parse it as a PostgreSQL URL or keyword/value string")
	}
	if o.Password != "" {
		cfg.Password = o.Password
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "drover-server"
	sqlDB := stdlib.OpenDB(*cfg)
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	sqlDB.SetMaxOpenConns(o.MaxConns)
	sqlDB.SetMaxIdleConns(o.MaxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	where := fmt.Sprintf("database %s on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	if o.Logger != nil && (cfg.TLSConfig == nil || cfg.TLSConfig.InsecureSkipVerify) && !localHost(cfg.Host) {
		o.Logger.Warn("the store's database connection does not verify the database server's certificate: "+
			"add sslmode=verify-full (and sslrootcert) to the URL", "host", cfg.Host)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	s := &Store{db: &db{DB: sqlDB, dialect: dialectPostgres}}
	if err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// localHost reports whether host is a unix socket directory or a loopback
// address, where TLS adds nothing.
func localHost(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// migrationLock is the advisory lock key that serialises migrations of
// one database across servers.
const migrationLock = 0x64726f766572 // "drover"

// migratePostgres applies the migrations past the recorded version, all in
// one transaction holding the migration lock: a server that starts while
// another migrates waits, then finds nothing left to do.
func (s *Store) migratePostgres(ctx context.Context) error {
	latest := postgresBase + len(postgresMigrations) - 1
	// READ COMMITTED, not Store.tx's SERIALIZABLE: the version must be read
	// after the lock is granted, not as of the transaction's first
	// statement (the lock itself).
	sqlTx, err := s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx := &txn{Tx: sqlTx, dialect: dialectPostgres}
	if err := applyPostgres(ctx, tx, latest); err != nil {
		tx.Rollback()
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// applyPostgres applies the migrations past the recorded version in tx.
func applyPostgres(ctx context.Context, tx *txn, latest int) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrationLock)); err != nil {
		return err
	}
	// compatible_from: the oldest schema a server may have and still run
	// on this database (see postgresAdditive).
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS drover_schema (version INTEGER NOT NULL);
		ALTER TABLE drover_schema ADD COLUMN IF NOT EXISTS compatible_from INTEGER NOT NULL DEFAULT 0`); err != nil {
		return err
	}
	var version, from int
	switch err := tx.QueryRowContext(ctx, `SELECT version, compatible_from FROM drover_schema`).Scan(&version, &from); {
	case mapErr(err) == ErrNotFound:
		if _, err := tx.ExecContext(ctx, `INSERT INTO drover_schema (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > latest {
		if from > 0 && from <= latest {
			return nil // a newer server's additions, which this one ignores (a rolling upgrade)
		}
		return fmt.Errorf("database schema version %d is newer than this server (%d), and servers before version %d cannot run on it: "+
			"upgrade this server", version, latest, from)
	}
	for v := max(version+1, postgresBase); v <= latest; v++ {
		if _, err := tx.ExecContext(ctx, postgresMigrations[v-postgresBase]); err != nil {
			return fmt.Errorf("apply migration %d: %w", v, err)
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE drover_schema SET version = ?, compatible_from = ?`, latest, compatibleFrom(latest))
	return err
}

// compatibleFrom is the oldest schema version a server may have to run on
// a database at version v: the last migration up to v that is not
// additive.
func compatibleFrom(v int) int {
	for ; v > postgresBase; v-- {
		if !postgresAdditive[v] {
			return v
		}
	}
	return postgresBase
}

// Dialect names the store's SQL engine: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.db.dialect.String() }
