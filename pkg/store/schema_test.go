package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type column struct {
	Type    string // text, int or bytes
	NotNull bool
}

// schemaOf describes the tables, columns, named indexes and triggers of a
// store's database, in terms both dialects share.
func schemaOf(t *testing.T, st *Store) (map[string]map[string]column, []string) {
	t.Helper()
	ctx := context.Background()
	tables := map[string]map[string]column{}
	var names []string
	q := map[dialect][2]string{
		dialectSQLite: {
			`SELECT m.name, p.name, lower(p.type), p."notnull" OR p.pk > 0 FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'`,
			`SELECT type || ' ' || name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL`},
		dialectPostgres: {
			`SELECT table_name, column_name, data_type, CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END FROM information_schema.columns
			 WHERE table_schema = current_schema() AND table_name != 'drover_schema'`,
			`SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'
			 UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal`},
	}[st.db.dialect]
	rows, err := st.db.QueryContext(ctx, q[0])
	must(t, err)
	for rows.Next() {
		var table, name, typ string
		var notNull bool
		must(t, rows.Scan(&table, &name, &typ, &notNull))
		switch typ {
		case "text":
		case "integer", "bigint":
			typ = "int"
		case "blob", "bytea":
			typ = "bytes"
		default:
			t.Errorf("%s.%s: type %s", table, name, typ)
		}
		if tables[table] == nil {
			tables[table] = map[string]column{}
		}
		tables[table][name] = column{typ, notNull}
	}
	must(t, rows.Err())
	rows.Close()
	rows, err = st.db.QueryContext(ctx, q[1])
	must(t, err)
	for rows.Next() {
		var n string
		must(t, rows.Scan(&n))
		names = append(names, n)
	}
	must(t, rows.Err())
	rows.Close()
	return tables, names
}

// TestDialectsAgree: at the latest version, both dialects' migrations give
// the same tables, columns (type class and nullability), indexes and
// triggers, and the same schema version; so a change made to one list and
// not the other fails here.
func TestDialectsAgree(t *testing.T) {
	if got, want := postgresBase+len(postgresMigrations)-1, len(sqliteMigrations); got != want {
		t.Fatalf("PostgreSQL migrates to version %d, SQLite to %d: add the migration to both lists", got, want)
	}
	lite, liteIdx := schemaOf(t, sqliteDB.open(t))
	pg, pgIdx := schemaOf(t, postgresDB(t).open(t))
	if diff := cmp.Diff(lite, pg); diff != "" {
		t.Errorf("tables (-sqlite +postgres):\n%s", diff)
	}
	if diff := cmp.Diff(liteIdx, pgIdx, cmpSorted); diff != "" {
		t.Errorf("indexes and triggers (-sqlite +postgres):\n%s", diff)
	}
	if len(lite) < 12 {
		t.Errorf("only %d tables: the query is wrong", len(lite))
	}
}

var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestConcurrentServers: servers starting together on one PostgreSQL
// database migrate it once, and writes that read before they write (a
// registration generation is one past the newest) stay right when they
// race, on both dialects.
func TestConcurrentServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := postgresDB(t)
	where := pg.fresh(t)
	const servers = 4
	stores := make([]*Store, servers)
	var wg sync.WaitGroup
	errs := make([]error, servers)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = pg.openAt(ctx, where) })
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	for _, st := range stores {
		defer st.Close()
	}

	eachDB(t, func(t *testing.T, db testDB) {
		w := db.fresh(t)
		var sts []*Store
		for range servers {
			st, err := db.openAt(ctx, w)
			must(t, err)
			defer st.Close()
			sts = append(sts, st)
		}
		must(t, sts[0].CreateCluster(ctx, Cluster{ID: "c-1", Name: "one"}))
		const mints = 24
		errs := make([]error, mints)
		var wg sync.WaitGroup
		for i := range mints {
			wg.Go(func() {
				errs[i] = sts[i%servers].CreateRegistrationToken(ctx, RegistrationToken{ID: fmt.Sprintf("r-%02d", i), ClusterID: "c-1",
					Hashed: hashed([]byte("s"), []byte("h"))})
			})
		}
		wg.Wait()
		must(t, errors.Join(errs...))
		var gens []string
		for _, f := range families(t, sts[0], "c-1") {
			gens = append(gens, fmt.Sprint(f.Generation))
		}
		var want []string
		for g := 1; g <= mints; g++ {
			want = append(want, fmt.Sprint(g))
		}
		if diff := cmp.Diff(want, gens, cmpSorted); diff != "" {
			t.Errorf("generations (-want +got):\n%s", diff)
		}
	})
}

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`VALUES (?1, ?2, ?1)`, `VALUES ($1, $2, $1)`},
		{`x = '?' AND y = ? AND "q?" = ?`, `x = '?' AND y = $1 AND "q?" = $2`},
		{`'it''s ?' || ?`, `'it''s ?' || $1`},
		{`?10 ?`, `$10 $1`},
	} {
		if got := dialectPostgres.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := dialectSQLite.rebind(tc.in); got != tc.in {
			t.Errorf("SQLite changed %q to %q", tc.in, got)
		}
	}
}

// FuzzRebind: no ? is left outside quotes, everything else is kept, and
// SQLite's queries are never changed.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{`a = ? AND b = ?`, `VALUES (?1, ?2)`, `'?' ?`, `"x?" ?3 '`, `??`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if got := dialectSQLite.rebind(q); got != q {
			t.Fatalf("SQLite changed %q", q)
		}
		got := dialectPostgres.rebind(q)
		var quote rune
		for _, c := range got {
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '?':
				t.Fatalf("rebind(%q) = %q: a ? is left", q, got)
			}
		}
		strip := func(s string) string {
			return strings.Map(func(r rune) rune {
				if r == '?' || r == '$' || (r >= '0' && r <= '9') {
					return -1
				}
				return r
			}, s)
		}
		if strip(got) != strip(q) {
			t.Fatalf("rebind(%q) = %q changed more than placeholders", q, got)
		}
	})
}

// TestPostgresURLNotEchoed: a URL that does not parse is refused without
// repeating it (it may hold a password).
func TestPostgresURLNotEchoed(t *testing.T) {
	_, err := OpenPostgres(context.Background(), PostgresOptions{URL: "postgres://u:sekrit@[::1"})
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("err = %v", err)
	}
}

// TestAdditiveMigrations: every migration marked additive only creates
// tables, indexes and functions or adds columns with a default; the
// database records the oldest server schema that may still run on it.
func TestAdditiveMigrations(t *testing.T) {
	allowed := regexp.MustCompile(`(?is)^(CREATE (UNIQUE )?(TABLE|INDEX) |ALTER TABLE \w+ ADD COLUMN \w+ [^;]*DEFAULT )`)
	comment := regexp.MustCompile(`(?m)^\s*--.*$`)
	for v := range postgresAdditive {
		if v < postgresBase || v-postgresBase >= len(postgresMigrations) {
			t.Errorf("additive version %d is no migration", v)
			continue
		}
		for _, stmt := range strings.Split(comment.ReplaceAllString(postgresMigrations[v-postgresBase], ""), ";") {
			if stmt = strings.TrimSpace(stmt); stmt != "" && !allowed.MatchString(stmt) {
				t.Errorf("migration %d is marked additive but has %q", v, stmt)
			}
		}
	}
	st := postgresDB(t).open(t)
	var version, from int
	must(t, st.db.QueryRowContext(context.Background(), `SELECT version, compatible_from FROM drover_schema`).Scan(&version, &from))
	if version != LatestSchema() || from != compatibleFrom(version) || from > version {
		t.Errorf("schema %d compatible from %d; want %d from %d", version, from, LatestSchema(), compatibleFrom(LatestSchema()))
	}
}

// TestNewerCompatibleSchema: a server opens a database a newer server
// migrated with additive changes only (a rolling upgrade), and refuses one
// whose changes it cannot run on.
func TestNewerCompatibleSchema(t *testing.T) {
	ctx := context.Background()
	pg := postgresDB(t)
	where := pg.fresh(t)
	st, err := pg.openAt(ctx, where)
	must(t, err)
	latest := LatestSchema()
	_, err = st.db.ExecContext(ctx, `CREATE TABLE from_the_future (x INTEGER); UPDATE drover_schema SET version = `+
		fmt.Sprint(latest+1)+`, compatible_from = `+fmt.Sprint(compatibleFrom(latest)))
	must(t, err)
	st.Close()
	again, err := pg.openAt(ctx, where)
	if err != nil {
		t.Fatalf("a newer, compatible schema: %v", err)
	}
	again.Close()
	st, err = pg.openAt(ctx, where)
	must(t, err)
	_, err = st.db.ExecContext(ctx, `UPDATE drover_schema SET compatible_from = `+fmt.Sprint(latest+1))
	must(t, err)
	st.Close()
	if _, err := pg.openAt(ctx, where); err == nil || !strings.Contains(err.Error(), "upgrade this server") {
		t.Errorf("a newer schema this server cannot run on: %v", err)
	}
}
