package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fill writes a row of every kind into st.
func fill(t *testing.T, st *Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	h := hashed([]byte("salt"), []byte{0, 1, 2, 0xff})
	saveProvider(t, st, "corp")
	must(t, st.CreateUser(ctx, User{ID: "u-a", Username: "ada", CreatedAt: now, Groups: []string{"devs"}}, []byte("$2a$hash")))
	must(t, st.CreateExternalUser(ctx, User{ID: "u-b", Username: "corp:bo", Provider: "corp", ExternalID: "cn=bo",
		Login: "bo", DisplayName: "Bö", Groups: []string{"corp:ops", "corp:devs"}, GroupsAt: now}, []byte{9, 9}))
	must(t, st.CreateCluster(ctx, Cluster{ID: "c-1", Name: "one", CreatedAt: now}))
	must(t, st.SetAgentEndpoint(ctx, "c-1", "https://10.0.0.1:6443", []byte("ca-pem")))
	must(t, st.SetAuthEndpoint(ctx, "c-1", "https://ace:6443", "ace-ca"))
	must(t, st.SaveClusterStatus(ctx, "c-1", []byte(`{"ready":true}`), now))
	must(t, st.CreateToken(ctx, Token{ID: "t-s", UserID: "u-a", Kind: KindSession, Hashed: h, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, st.CreateToken(ctx, Token{ID: "t-k", UserID: "u-a", Kind: KindKubeconfig, ClusterID: "c-1", ParentID: "t-s",
		Description: "laptop", Hashed: h, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, st.CreateRegistrationToken(ctx, RegistrationToken{ID: "r-1", ClusterID: "c-1", Hashed: h, CreatedAt: now}))
	if _, _, err := st.RegistrationChild(ctx, "r-1", RegistrationToken{ID: "r-1n", Kind: AgentNode, Hashed: h, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	must(t, st.CreateDriver(ctx, Driver{Name: "gke", URL: "https://x/gke", Checksum: "ab", Address: "port", CreatedAt: now}))
	must(t, st.CreateProvisionedCluster(ctx, Cluster{ID: "c-2", Name: "two", CreatedAt: now},
		Provisioning{Driver: "gke", Phase: "provisioning", Config: []byte("sealed-config"), UpdatedAt: now}))
	must(t, st.CreateProject(ctx, Project{ID: "p-1", ClusterID: "c-1", Name: "web", Namespaces: []string{"web", "web-2"}, CreatedAt: now}))
	if _, err := st.PutIdentityIfAbsent(ctx, "ca", []byte("sealed-ca"), now); err != nil {
		t.Fatal(err)
	}
	for _, b := range []Binding{
		{ID: "b-1", Scope: ScopeGlobal, Role: "admin", Kind: SubjectUser, Subject: "u-a", CreatedAt: now},
		{ID: "b-2", Scope: ScopeCluster, ClusterID: "c-1", Role: "read-only", Kind: SubjectGroup, Subject: "corp:ops", CreatedAt: now},
		{ID: "b-3", Scope: ScopeProject, ClusterID: "c-1", ProjectID: "p-1", Role: "project-member", Kind: SubjectUser, Subject: "u-b", CreatedAt: now},
	} {
		must(t, st.CreateBinding(ctx, b))
	}
}

// rowsOf reads every row of every table, in a fixed order, as values
// both dialects return alike.
func rowsOf(t *testing.T, st *Store) map[string][][]any {
	t.Helper()
	ctx := context.Background()
	out := map[string][][]any{}
	for _, table := range copyOrder {
		rows, err := st.db.QueryContext(ctx, `SELECT * FROM `+table)
		must(t, err)
		cols, _ := rows.Columns()
		rows.Close()
		rows, err = st.db.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY `+strings.Join(cols, ", "))
		must(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			row := []any{}
			for i, v := range vals {
				switch x := v.(type) {
				case []byte:
					v = "bytes:" + string(x)
				case int32:
					v = int64(x)
				}
				row = append(row, cols[i]+"="+strings.TrimSpace(strings.ReplaceAll(fmtValue(v), "\n", "\\n")))
			}
			out[table] = append(out[table], row)
		}
		must(t, rows.Err())
		rows.Close()
	}
	return out
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + x + "'"
	default:
		return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtAny(x), "\t", " "), "  ", " "))
	}
}

// TestCopy: an SQLite store copied into PostgreSQL holds the same rows in
// every table, and reads back the same through the store's API; a
// non-empty destination is refused and left as it was; copyOrder names
// every table.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	src := sqliteDB.open(t)
	fill(t, src)
	pg := postgresDB(t)
	dst := pg.open(t)

	tables, _ := schemaOf(t, src)
	var names []string
	for n := range tables {
		names = append(names, n)
	}
	if diff := cmp.Diff(names, append(slices.Clone(copyOrder), notCopied...), cmpSorted); diff != "" {
		t.Fatalf("copyOrder misses tables (-schema +copyOrder):\n%s", diff)
	}

	counts, err := src.CopyTo(ctx, dst)
	must(t, err)
	for _, table := range copyOrder {
		if counts[table] == 0 {
			t.Errorf("no %s rows copied: fill writes one of each", table)
		}
	}
	want, got := rowsOf(t, src), rowsOf(t, dst)
	if len(want) != len(copyOrder) {
		t.Errorf("rows read from %d tables of %d", len(want), len(copyOrder))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-sqlite +postgres):\n%s", diff)
	}
	for _, id := range []string{"u-a", "u-b"} {
		a, err1 := src.UserByID(ctx, id)
		b, err2 := dst.UserByID(ctx, id)
		must(t, err1)
		must(t, err2)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("user %s (-sqlite +postgres):\n%s", id, diff)
		}
	}

	if _, err := src.CopyTo(ctx, dst); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Errorf("a second copy: %v", err)
	}
	if diff := cmp.Diff(want, rowsOf(t, dst)); diff != "" {
		t.Errorf("the refused copy changed rows:\n%s", diff)
	}
}

func fmtAny(v any) string { return strings.TrimSpace(fmt.Sprint(v)) }
