package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is the SQL engine under a Store. The queries are written once,
// in the SQL both engines share, with SQLite's ? and ?N placeholders; db
// rewrites them to PostgreSQL's $N. What the engines do not share lives
// in one place each: the migration lists, migrate, mapErr and the
// transaction isolation of Store.tx.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// db is the store's connection pool, speaking its dialect.
type db struct {
	*sql.DB
	dialect dialect
}

func (d *db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.dialect.rebind(q), d.dialect.args(args)...)
}

func (d *db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.dialect.rebind(q), d.dialect.args(args)...)
}

func (d *db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.dialect.rebind(q), d.dialect.args(args)...)
}

// BeginTx starts a transaction: SQLite's (one writer at a time) or
// PostgreSQL's SERIALIZABLE, so that what a transaction read still holds
// when it commits on either engine (Store.tx retries a serialization
// failure).
func (d *db) BeginTx(ctx context.Context) (*txn, error) {
	var opts *sql.TxOptions
	if d.dialect == dialectPostgres {
		opts = &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	tx, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, dialect: d.dialect}, nil
}

// txn is a transaction speaking its dialect.
type txn struct {
	*sql.Tx
	dialect dialect
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.dialect.rebind(q), t.dialect.args(args)...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.dialect.rebind(q), t.dialect.args(args)...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.dialect.rebind(q), t.dialect.args(args)...)
}

// rebind rewrites SQLite placeholders for PostgreSQL: ?N becomes $N, and
// each bare ? the next number. Quoted strings and identifiers are copied
// as they are. A query must not mix the two forms.
func (d dialect) rebind(q string) string {
	if d != dialectPostgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			b.WriteByte(c)
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
				i = j - 1
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// args converts arguments for PostgreSQL: a bool becomes 0 or 1, as
// SQLite stores it (flags are INTEGER columns in both schemas).
func (d dialect) args(args []any) []any {
	if d != dialectPostgres {
		return args
	}
	var out []any // a copy, made at the first bool: the caller's slice is left alone
	for i, a := range args {
		b, ok := a.(bool)
		if !ok {
			continue
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = boolInt(b)
	}
	if out == nil {
		return args
	}
	return out
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// PostgreSQL error codes the store maps (Appendix A of its manual).
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// mapErr turns driver errors into the package's sentinel errors.
func mapErr(err error) error {
	var pg *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case errors.As(err, &pg) && pg.Code == pgUniqueViolation,
		strings.Contains(err.Error(), "UNIQUE constraint failed"),
		strings.Contains(err.Error(), "PRIMARY KEY constraint failed"):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	default:
		return err
	}
}

// Unavailable reports whether err says the database could not be reached,
// or is shutting down or starting up, rather than that it refused the
// query: the caller answers 503 and the client retries. This is the one
// place that tells the two apart.
func Unavailable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now (starting up).
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF)
}

// retryable reports whether a transaction failed only because a concurrent
// one won (PostgreSQL): running it again may succeed.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == pgSerializationFailure || pg.Code == pgDeadlockDetected)
}
