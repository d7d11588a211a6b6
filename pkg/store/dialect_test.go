package store

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/postgres"
)

// pgServer is the package's PostgreSQL, started by the first test that
// needs it and stopped by TestMain.
var pgServer = struct {
	once sync.Once
	s    *postgres.Server
	err  error
}{}

func TestMain(m *testing.M) {
	code := m.Run()
	pgServer.s.Stop()
	os.Exit(code)
}

func sharedPostgres(t testing.TB) *postgres.Server {
	t.Helper()
	pgServer.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pgServer.s, pgServer.err = postgres.Start(ctx)
	})
	if pgServer.err != nil {
		t.Fatal(pgServer.err)
	}
	return pgServer.s
}

// testDB makes databases of one dialect for a test.
type testDB struct {
	dialect string
	// fresh makes an empty database and says where it is (a file or a
	// PostgreSQL URL).
	fresh func(t *testing.T) string
	// openAt opens the store at where.
	openAt func(ctx context.Context, where string) (*Store, error)
}

// open opens a store on a fresh database, closed when the test ends.
func (d testDB) open(t *testing.T) *Store {
	t.Helper()
	st, err := d.openAt(context.Background(), d.fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var sqliteDB = testDB{
	dialect: "sqlite",
	fresh:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "drover.db") },
	openAt:  Open,
}

func postgresDB(t *testing.T) testDB {
	pg := sharedPostgres(t)
	return testDB{
		dialect: "postgres",
		fresh:   func(t *testing.T) string { return pg.URL(pg.NewDatabaseT(t)) },
		openAt: func(ctx context.Context, url string) (*Store, error) {
			return OpenPostgres(ctx, PostgresOptions{URL: url, Password: pg.Password})
		},
	}
}

// eachDB runs f once per dialect: the store's behaviour must not depend on
// the engine under it.
func eachDB(t *testing.T, f func(t *testing.T, db testDB)) {
	t.Helper()
	for _, mk := range []func(*testing.T) testDB{
		func(*testing.T) testDB { return sqliteDB },
		postgresDB,
	} {
		db := mk(t)
		t.Run(db.dialect, func(t *testing.T) { f(t, db) })
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
