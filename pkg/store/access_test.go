package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// must2 is must for calls that also return a value.
func must2(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		must(t, err)
	}
}

func TestMembershipAndEffectiveAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		for _, c := range []string{"c-a", "c-b"} {
			must(t, st.CreateCluster(ctx, Cluster{ID: c, Name: c, CreatedAt: now}))
		}
		users := []User{
			{ID: "u-direct", Username: "direct"},
			{ID: "u-group", Username: "ldap:grouped", Provider: "ldap", ExternalID: "cn=g", Groups: []string{"ldap:devs", "ldap:ops"}},
			{ID: "u-project", Username: "project"},
			{ID: "u-none", Username: "none", Groups: []string{"ldap:others"}},
			{ID: "u-admins", Username: "ldap:boss", Provider: "ldap", ExternalID: "cn=b", Groups: []string{"ldap:admins"}},
		}
		for _, u := range users {
			must(t, st.CreateUser(ctx, u, nil))
		}
		must(t, st.CreateProject(ctx, Project{ID: "p-1", ClusterID: "c-b", Name: "web", Namespaces: []string{"web", "web-canary"}, CreatedAt: now}))
		bindings := []Binding{
			{ID: "b-1", Scope: ScopeCluster, ClusterID: "c-a", Role: "read-only", Kind: SubjectUser, Subject: "u-direct"},
			{ID: "b-2", Scope: ScopeCluster, ClusterID: "c-b", Role: "cluster-member", Kind: SubjectGroup, Subject: "ldap:ops"},
			{ID: "b-3", Scope: ScopeProject, ClusterID: "c-b", ProjectID: "p-1", Role: "project-member", Kind: SubjectUser, Subject: "u-project"},
			{ID: "b-4", Scope: ScopeGlobal, Role: "admin", Kind: SubjectGroup, Subject: "ldap:admins"},
		}
		for _, b := range bindings {
			b.CreatedAt = now
			must(t, st.CreateBinding(ctx, b))
		}
		dup := bindings[0]
		dup.ID = "b-dup"
		if err := st.CreateBinding(ctx, dup); !errors.Is(err, ErrConflict) {
			t.Errorf("the same binding twice: %v, want ErrConflict", err)
		}

		want := map[string][]string{ // user → member clusters
			"u-direct": {"c-a"}, "u-group": {"c-b"}, "u-project": {"c-b"}, "u-none": nil, "u-admins": nil,
		}
		for user, clusters := range want {
			t.Run(user, func(t *testing.T) {
				got, err := st.MemberClusterIDs(ctx, user)
				must(t, err)
				wantSet := map[string]bool{}
				for _, c := range clusters {
					wantSet[c] = true
				}
				if diff := cmp.Diff(wantSet, got); diff != "" {
					t.Errorf("member clusters (-want +got):\n%s", diff)
				}
				for _, c := range []string{"c-a", "c-b"} {
					ok, err := st.IsClusterMember(ctx, user, c)
					must(t, err)
					if ok != wantSet[c] {
						t.Errorf("IsClusterMember(%s) = %v, want %v", c, ok, wantSet[c])
					}
				}
			})
		}
		if _, err := st.IsClusterMember(ctx, "u-direct", "c-404"); !errors.Is(err, ErrNotFound) {
			t.Errorf("membership of a missing cluster: %v, want ErrNotFound", err)
		}

		boss, err := st.UserByID(ctx, "u-admins")
		must(t, err)
		if !boss.Admin {
			t.Error("a member of a group bound to the global admin role is not an admin")
		}
		grouped, err := st.UserByID(ctx, "u-group")
		must(t, err)
		if diff := cmp.Diff([]string{"ldap:devs", "ldap:ops"}, grouped.Groups); diff != "" || grouped.Admin {
			t.Errorf("grouped user: admin %v, groups (-want +got):\n%s", grouped.Admin, diff)
		}

		// Groups change: membership follows.
		grouped.Groups = []string{"ldap:devs"}
		grouped.GroupsAt = now
		must(t, st.UpdateExternalUser(ctx, grouped, []byte("sealed")))
		if ok, _ := st.IsClusterMember(ctx, "u-group", "c-b"); ok {
			t.Error("still a member after leaving the bound group")
		}
		if b, err := st.UserRefresh(ctx, "u-group"); err != nil || string(b) != "sealed" {
			t.Errorf("refresh credential = %q, %v", b, err)
		}
		must(t, st.UpdateExternalUser(ctx, grouped, nil))
		if b, _ := st.UserRefresh(ctx, "u-group"); string(b) != "sealed" {
			t.Errorf("a nil refresh credential replaced the stored one: %q", b)
		}

		// Deleting a project removes its bindings; deleting a user removes theirs.
		must(t, st.DeleteProject(ctx, "p-1"))
		if ok, _ := st.IsClusterMember(ctx, "u-project", "c-b"); ok {
			t.Error("still a member after the project was deleted")
		}
		must(t, st.DeleteUser(ctx, "u-direct"))
		left, err := st.ListBindings(ctx, BindingFilter{})
		must(t, err)
		var ids []string
		for _, b := range left {
			ids = append(ids, b.ID)
		}
		if diff := cmp.Diff([]string{"b-2", "b-4"}, ids); diff != "" {
			t.Errorf("bindings left (-want +got):\n%s", diff)
		}
		must(t, st.DeleteCluster(ctx, "c-b"))
		left, _ = st.ListBindings(ctx, BindingFilter{Scope: ScopeCluster})
		if len(left) != 0 {
			t.Errorf("cluster bindings outlived their cluster: %+v", left)
		}
	})
}

func TestPasswordAndDisableEndSessions(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Now().UTC()
		must(t, st.CreateUser(ctx, User{ID: "u-1", Username: "alice", CreatedAt: now}, []byte("old")))
		for i, kind := range []string{KindSession, KindAPI, KindSession} {
			must(t, st.CreateToken(ctx, Token{ID: fmt.Sprintf("t-%d", i), UserID: "u-1", Kind: kind, CreatedAt: now, Hashed: hashed([]byte("s"), []byte("h"))}))
		}
		kinds := func() []string {
			toks, err := st.ListTokens(ctx, "u-1")
			must(t, err)
			var out []string
			for _, t := range toks {
				out = append(out, t.Kind)
			}
			return out
		}
		must(t, st.SetPassword(ctx, "u-1", []byte("new")))
		if diff := cmp.Diff([]string{KindAPI}, kinds()); diff != "" {
			t.Errorf("tokens after a password change (-want +got):\n%s", diff)
		}
		if _, hash, _ := st.UserByUsername(ctx, "alice"); string(hash) != "new" {
			t.Errorf("hash = %q", hash)
		}
		must(t, st.CreateToken(ctx, Token{ID: "t-9", UserID: "u-1", Kind: KindSession, CreatedAt: now, Hashed: hashed([]byte("s"), []byte("h"))}))
		// Disabling deletes every token, API and kubeconfig tokens too: enabling
		// the user again must not bring them back.
		deleted, err := st.SetUserDisabled(ctx, "u-1", true)
		must(t, err)
		if diff := cmp.Diff([]string(nil), kinds()); diff != "" {
			t.Errorf("tokens after disabling (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"t-1", "t-9"}, deleted); diff != "" {
			t.Errorf("deleted token ids (-want +got):\n%s", diff)
		}
		if u, _ := st.UserByID(ctx, "u-1"); !u.Disabled {
			t.Error("not disabled")
		}
		must2(t)(st.SetUserDisabled(ctx, "u-1", false))
		if len(kinds()) != 0 {
			t.Error("enabling brought tokens back")
		}
		if _, err := st.SetUserDisabled(ctx, "u-404", true); !errors.Is(err, ErrNotFound) {
			t.Errorf("disable a missing user: %v", err)
		}
		if err := st.SetPassword(ctx, "u-404", []byte("x")); !errors.Is(err, ErrNotFound) {
			t.Errorf("password of a missing user: %v", err)
		}
	})
}

// TestMigrateAdminFlag opens a database at schema 5, where admins were a
// column, and checks they become global admin bindings.
func TestMigrateAdminFlag(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	for _, m := range sqliteMigrations[:5] {
		_, err := db.ExecContext(ctx, m)
		must(t, err)
	}
	_, err = db.ExecContext(ctx, `PRAGMA user_version = 5;
		INSERT INTO users (id, username, password_hash, admin, created_at) VALUES ('u-a', 'root', x'00', 1, 1), ('u-b', 'bob', x'00', 0, 1)`)
	must(t, err)
	db.Close()
	st, err := Open(ctx, path)
	must(t, err)
	defer st.Close()
	for id, admin := range map[string]bool{"u-a": true, "u-b": false} {
		u, err := st.UserByID(ctx, id)
		must(t, err)
		if u.Admin != admin || u.Provider != LocalProvider {
			t.Errorf("%s after migration: admin %v provider %q, want admin %v", id, u.Admin, u.Provider, admin)
		}
	}
}

func TestNamespaceInOneProject(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Now().UTC()
		for _, c := range []string{"c-a", "c-b"} {
			must(t, st.CreateCluster(ctx, Cluster{ID: c, Name: c, CreatedAt: now}))
		}
		must(t, st.CreateProject(ctx, Project{ID: "p-1", ClusterID: "c-a", Name: "web", Namespaces: []string{"web", "shared"}, CreatedAt: now}))
		steps := []struct {
			name string
			do   func() error
			want error
		}{
			{"same namespace, other project, same cluster", func() error {
				return st.CreateProject(ctx, Project{ID: "p-2", ClusterID: "c-a", Name: "api", Namespaces: []string{"api", "shared"}, CreatedAt: now})
			}, ErrConflict},
			{"same namespace in another cluster", func() error {
				return st.CreateProject(ctx, Project{ID: "p-3", ClusterID: "c-b", Name: "web", Namespaces: []string{"shared"}, CreatedAt: now})
			}, nil},
			{"second project without the namespace", func() error {
				return st.CreateProject(ctx, Project{ID: "p-2", ClusterID: "c-a", Name: "api", Namespaces: []string{"api"}, CreatedAt: now})
			}, nil},
			{"update claims a taken namespace", func() error { return st.SetProjectNamespaces(ctx, "p-2", []string{"api", "web"}) }, ErrConflict},
			{"the owner gives it up", func() error { return st.SetProjectNamespaces(ctx, "p-1", []string{"shared"}) }, nil},
			{"now it may be claimed", func() error { return st.SetProjectNamespaces(ctx, "p-2", []string{"api", "web"}) }, nil},
			{"missing project", func() error { return st.SetProjectNamespaces(ctx, "p-404", nil) }, ErrNotFound},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				if err := s.do(); !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
					t.Fatalf("err = %v, want %v", err, s.want)
				}
			})
		}
		got := map[string][]string{}
		for _, c := range []string{"c-a", "c-b"} {
			ps, err := st.ListProjects(ctx, c)
			must(t, err)
			for _, p := range ps {
				got[p.ID] = p.Namespaces
			}
		}
		want := map[string][]string{"p-1": {"shared"}, "p-2": {"api", "web"}, "p-3": {"shared"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("namespaces (-want +got):\n%s", diff)
		}
		// A failed update changed nothing; deleting a project frees its namespaces.
		must(t, st.DeleteProject(ctx, "p-2"))
		must(t, st.CreateProject(ctx, Project{ID: "p-4", ClusterID: "c-a", Name: "new", Namespaces: []string{"web", "api"}, CreatedAt: now}))
	})
}
