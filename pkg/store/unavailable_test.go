package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drover-dev/drover/test/postgres"
)

// TestUnavailableKinds: errors that say the database cannot be reached
// now are told from those that say it refused the query.
func TestUnavailableKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", fmt.Errorf("cluster %q: %w", "c-1", &pgconn.PgError{Code: "57P03"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"refused connection", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"bad connection", fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{"cut answer", io.ErrUnexpectedEOF, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"serialization", &pgconn.PgError{Code: "40001"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"not found", ErrNotFound, false},
		{"conflict", fmt.Errorf("%w: x", ErrConflict), false},
		{"canceled", context.Canceled, false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unavailable(tc.err); got != tc.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestUnavailableStopped: a query on a PostgreSQL that stopped is
// unavailable; one on a running server that finds nothing is not.
func TestUnavailableStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := postgres.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	st, err := OpenPostgres(ctx, PostgresOptions{URL: pg.URL(pg.NewDatabaseT(t)), Password: pg.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Cluster(ctx, "c-nosuch"); !errors.Is(err, ErrNotFound) || Unavailable(err) {
		t.Fatalf("a missing cluster: %v (unavailable %v)", err, Unavailable(err))
	}
	pg.Stop()
	_, err = st.Cluster(ctx, "c-nosuch")
	if err == nil || !Unavailable(err) {
		t.Fatalf("with PostgreSQL stopped: %v, want an unavailable error", err)
	}
}
