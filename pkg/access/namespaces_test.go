package access

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/store"
)

// TestReadableNamespaces: which namespaces' events each kind of caller may
// see in a cluster, from bindings held directly or through a group, in the
// cluster or in its projects, against a real store.
func TestReadableNamespaces(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"c-1", "c-2"} {
		must(st.CreateCluster(ctx, store.Cluster{ID: c, Name: c, CreatedAt: now}))
	}
	for _, p := range []store.Project{
		{ID: "p-web", ClusterID: "c-1", Name: "web", Namespaces: []string{"web", "web-canary"}},
		{ID: "p-db", ClusterID: "c-1", Name: "db", Namespaces: []string{"db"}},
		{ID: "p-away", ClusterID: "c-2", Name: "away", Namespaces: []string{"kube-system"}},
	} {
		p.CreatedAt = now
		must(st.CreateProject(ctx, p))
	}
	for _, u := range []string{"u-owner", "u-ro", "u-member", "u-member-web", "u-db-ro", "u-grouped", "u-away", "u-none"} {
		var groups []string
		if u == "u-grouped" {
			groups = []string{"ldap:devs"}
		}
		must(st.CreateUser(ctx, store.User{ID: u, Username: u, CreatedAt: now, Groups: groups}, nil))
	}
	for i, b := range []store.Binding{
		{Scope: store.ScopeCluster, ClusterID: "c-1", Role: RoleClusterOwner, Kind: store.SubjectUser, Subject: "u-owner"},
		{Scope: store.ScopeCluster, ClusterID: "c-1", Role: RoleReadOnly, Kind: store.SubjectUser, Subject: "u-ro"},
		{Scope: store.ScopeCluster, ClusterID: "c-1", Role: RoleClusterMember, Kind: store.SubjectUser, Subject: "u-member"},
		{Scope: store.ScopeCluster, ClusterID: "c-1", Role: RoleClusterMember, Kind: store.SubjectUser, Subject: "u-member-web"},
		{Scope: store.ScopeProject, ClusterID: "c-1", ProjectID: "p-web", Role: RoleProjectMember, Kind: store.SubjectUser, Subject: "u-member-web"},
		{Scope: store.ScopeProject, ClusterID: "c-1", ProjectID: "p-db", Role: RoleReadOnly, Kind: store.SubjectUser, Subject: "u-db-ro"},
		{Scope: store.ScopeProject, ClusterID: "c-1", ProjectID: "p-web", Role: RoleProjectOwner, Kind: store.SubjectGroup, Subject: "ldap:devs"},
		{Scope: store.ScopeProject, ClusterID: "c-1", ProjectID: "p-db", Role: RoleProjectMember, Kind: store.SubjectGroup, Subject: "ldap:others"},
		{Scope: store.ScopeProject, ClusterID: "c-2", ProjectID: "p-away", Role: RoleProjectOwner, Kind: store.SubjectUser, Subject: "u-away"},
		{Scope: store.ScopeCluster, ClusterID: "c-2", Role: RoleClusterOwner, Kind: store.SubjectUser, Subject: "u-db-ro"},
	} {
		b.ID, b.CreatedAt = "b-"+string(rune('a'+i)), now
		must(st.CreateBinding(ctx, b))
	}
	c := NewChecker(CheckerOptions{Store: st})
	all := Namespaces{All: true}
	names := func(ns ...string) Namespaces {
		out := Namespaces{Names: map[string]bool{}}
		for _, n := range ns {
			out.Names[n] = true
		}
		return out
	}
	tests := []struct {
		name   string
		caller Caller
		want   Namespaces
	}{
		{"global admin", Caller{UserID: "u-none", Admin: true}, all},
		{"disabled admin", Caller{UserID: "u-none", Admin: true, Disabled: true}, Namespaces{}},
		{"admin scoped to another cluster", Caller{UserID: "u-none", Admin: true, Scope: "c-2"}, Namespaces{}},
		{"admin scoped to this cluster", Caller{UserID: "u-none", Admin: true, Scope: "c-1"}, all},
		{"cluster-owner", Caller{UserID: "u-owner"}, all},
		{"cluster read-only", Caller{UserID: "u-ro"}, all},
		{"cluster-member: nothing namespaced", Caller{UserID: "u-member"}, names()},
		{"cluster-member and project-member", Caller{UserID: "u-member-web"}, names("web", "web-canary")},
		{"project read-only (and owner of another cluster)", Caller{UserID: "u-db-ro"}, names("db")},
		{"project-owner through a group", Caller{UserID: "u-grouped"}, names("web", "web-canary")},
		{"project in another cluster only", Caller{UserID: "u-away"}, names()},
		{"no binding", Caller{UserID: "u-none"}, names()},
		{"disabled owner", Caller{UserID: "u-owner", Disabled: true}, Namespaces{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ReadableNamespaces(ctx, tc.caller, "c-1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, ns := range []string{"web", "db", "kube-system"} {
				if got.Has(ns) != tc.want.Has(ns) {
					t.Errorf("Has(%q) = %v", ns, got.Has(ns))
				}
			}
		})
	}
}
