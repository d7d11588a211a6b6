package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// migrationsBefore is how many migrations ran before the one containing
// marker (so a test can build the schema that migration found).
func migrationsBefore(t *testing.T, marker string) int {
	t.Helper()
	for i, m := range sqliteMigrations {
		if strings.Contains(m, marker) {
			return i
		}
	}
	t.Fatalf("no migration contains %q", marker)
	return 0
}

// family is what a test compares of a registration token.
type family struct {
	ID, Kind, Parent string
	Generation       int64
	Superseded       bool
	ExpiresAt        time.Time
}

func families(t *testing.T, st *Store, clusterID string) []family {
	t.Helper()
	rs, err := st.ListRegistrationTokens(context.Background(), clusterID)
	must(t, err)
	out := []family{}
	for _, r := range rs {
		out = append(out, family{r.ID, r.Kind, r.ParentID, r.Generation, r.Superseded, r.ExpiresAt})
	}
	return out
}

// TestRegistrationFamilies: roots start generations, a child shares its
// parent's generation and expiry and is made once, and superseding ends
// every earlier generation with its children, also a child made after the
// rotation.
func TestRegistrationFamilies(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		ttl := now.Add(24 * time.Hour)
		grace := now.Add(time.Hour)
		must(t, st.CreateCluster(ctx, Cluster{ID: "c-1", Name: "one", CreatedAt: now}))
		must(t, st.CreateCluster(ctx, Cluster{ID: "c-2", Name: "two", CreatedAt: now}))
		root := func(id, cluster string, exp time.Time) {
			t.Helper()
			must(t, st.CreateRegistrationToken(ctx, RegistrationToken{ID: id, ClusterID: cluster, Hashed: hashed([]byte("s"), []byte("h")),
				CreatedAt: now, ExpiresAt: exp}))
		}
		child := func(parent, id string) (string, bool, error) {
			t.Helper()
			r, created, err := st.RegistrationChild(ctx, parent, RegistrationToken{ID: id, Kind: AgentNode,
				Hashed: hashed([]byte("s"), []byte("h")), CreatedAt: now})
			return r.ID, created, err
		}

		root("r-g1", "c-1", time.Time{})
		root("r-other", "c-2", time.Time{})
		root("r-g2", "c-1", ttl)
		if id, created, err := child("r-g2", "r-g2-node"); err != nil || !created || id != "r-g2-node" {
			t.Fatalf("first child: %q %v %v", id, created, err)
		}
		if id, created, err := child("r-g2", "r-g2-again"); err != nil || created || id != "r-g2-node" {
			t.Errorf("second child: %q created %v %v; want the first one back", id, created, err)
		}
		if _, _, err := child("r-missing", "r-orphan"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a child of a missing parent: %v, want ErrNotFound", err)
		}
		if n, err := st.SupersedeRegistrations(ctx, "c-1", "r-g2", grace); err != nil || n != 1 {
			t.Errorf("SupersedeRegistrations = %d, %v; want 1 (generation 1)", n, err)
		}
		// Generation 1 gets its node child only now (an import manifest that
		// raced the rotation): it ends with its parent, at the end of the grace.
		if _, created, err := child("r-g1", "r-g1-late"); err != nil || !created {
			t.Fatalf("late child: %v %v", created, err)
		}
		root("r-g3", "c-1", time.Time{})

		want := []family{
			{ID: "r-g1", Kind: AgentCluster, Generation: 1, Superseded: true, ExpiresAt: grace},
			{ID: "r-g1-late", Kind: AgentNode, Parent: "r-g1", Generation: 1, Superseded: true, ExpiresAt: grace},
			{ID: "r-g2", Kind: AgentCluster, Generation: 2, Superseded: true, ExpiresAt: ttl},
			{ID: "r-g2-node", Kind: AgentNode, Parent: "r-g2", Generation: 2, Superseded: true, ExpiresAt: ttl},
			{ID: "r-g3", Kind: AgentCluster, Generation: 3},
		}
		if diff := cmp.Diff(want, families(t, st, "c-1")); diff != "" {
			t.Errorf("c-1 (-want +got):\n%s", diff)
		}
		if n, err := st.SupersedeRegistrations(ctx, "c-1", "r-g3", grace.Add(time.Hour)); err != nil || n != 2 {
			t.Errorf("second rotation = %d, %v; want 2 (generation 2, which ends later, with its child)", n, err)
		}
		if diff := cmp.Diff([]family{{ID: "r-other", Kind: AgentCluster, Generation: 1}}, families(t, st, "c-2")); diff != "" {
			t.Errorf("another cluster's tokens changed (-want +got):\n%s", diff)
		}
		if n, err := st.SupersedeRegistrations(ctx, "c-2", "r-g3", grace); err != nil || n != 0 {
			t.Errorf("superseding with another cluster's token = %d, %v; want nothing", n, err)
		}
	})
}

// TestMigrateRegistrationGenerations: tokens made before families get the
// generation of the newest cluster token made at or before them.
func TestMigrateRegistrationGenerations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	n := migrationsBefore(t, "ALTER TABLE registration_tokens ADD COLUMN parent_id")
	for _, m := range sqliteMigrations[:n] {
		_, err := db.ExecContext(ctx, m)
		must(t, err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d;
		INSERT INTO clusters (id, name, created_at) VALUES ('c-1', 'one', 1), ('c-2', 'two', 1);
		INSERT INTO registration_tokens (id, cluster_id, kind, salt, hash, created_at, expires_at) VALUES
		  ('r-a', 'c-1', 'cluster', x'00', x'00', 10, 0),
		  ('r-a-node', 'c-1', 'node', x'00', x'00', 10, 0),
		  ('r-a-fetch', 'c-1', 'node', x'00', x'00', 15, 0),
		  ('r-b', 'c-1', 'cluster', x'00', x'00', 20, 0),
		  ('r-b-node', 'c-1', 'node', x'00', x'00', 20, 0),
		  ('r-c', 'c-2', 'cluster', x'00', x'00', 30, 0)`, n))
	must(t, err)
	db.Close()
	st, err := Open(ctx, path)
	must(t, err)
	defer st.Close()
	got := append(families(t, st, "c-1"), families(t, st, "c-2")...)
	want := []family{
		{ID: "r-a", Kind: AgentCluster, Generation: 1, Superseded: true},
		{ID: "r-a-fetch", Kind: AgentNode, Generation: 1, Superseded: true},
		{ID: "r-a-node", Kind: AgentNode, Generation: 1, Superseded: true},
		{ID: "r-b", Kind: AgentCluster, Generation: 2},
		{ID: "r-b-node", Kind: AgentNode, Generation: 2},
		{ID: "r-c", Kind: AgentCluster, Generation: 1},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b family) bool { return a.ID < b.ID })); diff != "" {
		t.Errorf("after the migration (-want +got):\n%s", diff)
	}
}
