package access

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/store"
)

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: name}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: name}
}

func meta(id, role, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "drover-" + id + "-" + role, Namespace: ns, Labels: map[string]string{
		"app.kubernetes.io/managed-by": "drover", "drover.dev/binding": id,
	}}
}

func crb(id, role string, s rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: meta(id, role, ""), Subjects: []rbacv1.Subject{s},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role}}
}

func rb(id, role, ns string, s rbacv1.Subject) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{ObjectMeta: meta(id, role, ns), Subjects: []rbacv1.Subject{s},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role}}
}

func TestDesired(t *testing.T) {
	const c = "c-1"
	projects := []store.Project{
		{ID: "p-web", ClusterID: c, Name: "web", Namespaces: []string{"web-prod", "web-dev"}},
		{ID: "p-empty", ClusterID: c, Name: "empty", Namespaces: []string{}},
		{ID: "p-other", ClusterID: "c-2", Name: "other", Namespaces: []string{"other"}},
	}
	users := map[string]string{"u-ann": "ann", "u-bob": "bob"}
	cluster := func(id, role, kind, subject string) store.Binding {
		return store.Binding{ID: id, Scope: store.ScopeCluster, ClusterID: c, Role: role, Kind: kind, Subject: subject}
	}
	project := func(id, pid, role, kind, subject string) store.Binding {
		return store.Binding{ID: id, Scope: store.ScopeProject, ClusterID: c, ProjectID: pid, Role: role, Kind: kind, Subject: subject}
	}
	none := DesiredRBAC{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{}, RoleBindings: []rbacv1.RoleBinding{}}
	tests := []struct {
		name     string
		bindings []store.Binding
		want     DesiredRBAC
	}{
		{"no bindings", nil, none},
		{"cluster owner", []store.Binding{cluster("b1", "cluster-owner", "user", "u-ann")}, DesiredRBAC{
			ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b1", "cluster-admin", user("ann"))},
			RoleBindings:        []rbacv1.RoleBinding{},
		}},
		{"cluster member", []store.Binding{cluster("b1", "cluster-member", "user", "u-ann")}, DesiredRBAC{
			ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b1", "drover-cluster-member", user("ann"))},
			RoleBindings:        []rbacv1.RoleBinding{},
		}},
		{"cluster read-only is view plus cluster member", []store.Binding{cluster("b1", "read-only", "user", "u-bob")}, DesiredRBAC{
			ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
				crb("b1", "drover-cluster-member", user("bob")), crb("b1", "view", user("bob")),
			},
			RoleBindings: []rbacv1.RoleBinding{},
		}},
		{"group binding", []store.Binding{cluster("b1", "cluster-owner", "group", "ldap:ops")}, DesiredRBAC{
			ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b1", "cluster-admin", group("ldap:ops"))},
			RoleBindings:        []rbacv1.RoleBinding{},
		}},
		{"project roles in every namespace, nothing cluster-scoped", []store.Binding{
			project("b1", "p-web", "project-owner", "user", "u-ann"),
			project("b2", "p-web", "project-member", "group", "ldap:devs"),
			project("b3", "p-web", "read-only", "user", "u-bob"),
		}, DesiredRBAC{
			ClusterRoleBindings: []rbacv1.ClusterRoleBinding{},
			RoleBindings: []rbacv1.RoleBinding{
				rb("b1", "admin", "web-dev", user("ann")), rb("b2", "edit", "web-dev", group("ldap:devs")),
				rb("b3", "view", "web-dev", user("bob")),
				rb("b1", "admin", "web-prod", user("ann")), rb("b2", "edit", "web-prod", group("ldap:devs")),
				rb("b3", "view", "web-prod", user("bob")),
			},
		}},
		{"project without namespaces", []store.Binding{project("b1", "p-empty", "project-owner", "user", "u-ann")}, none},
		{"ignored: other cluster, global, unknown project, deleted user, unknown role", []store.Binding{
			{ID: "b1", Scope: store.ScopeCluster, ClusterID: "c-2", Role: "cluster-owner", Kind: "user", Subject: "u-ann"},
			{ID: "b2", Scope: store.ScopeGlobal, Role: "admin", Kind: "user", Subject: "u-ann"},
			project("b3", "p-gone", "project-owner", "user", "u-ann"),
			project("b4", "p-other", "project-owner", "user", "u-ann"),
			cluster("b5", "cluster-owner", "user", "u-deleted"),
			cluster("b6", "project-owner", "user", "u-ann"),
			project("b7", "p-web", "cluster-owner", "user", "u-ann"),
			cluster("b8", "cluster-owner", "robot", "u-ann"),
		}, none},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Desired(DesiredInput{ClusterID: c, Bindings: tc.bindings, Projects: projects, Usernames: users})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Desired (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDesiredRenamedUser: the subject follows the user's current username.
func TestDesiredRenamedUser(t *testing.T) {
	in := DesiredInput{ClusterID: "c-1", Usernames: map[string]string{"u-1": "ann"},
		Bindings: []store.Binding{{ID: "b1", Scope: store.ScopeCluster, ClusterID: "c-1", Role: "cluster-owner", Kind: "user", Subject: "u-1"}}}
	before := Desired(in)
	in.Usernames["u-1"] = "anna"
	after := Desired(in)
	if diff := cmp.Diff([]rbacv1.Subject{user("anna")}, after.ClusterRoleBindings[0].Subjects); diff != "" {
		t.Errorf("subjects after rename (-want +got):\n%s", diff)
	}
	if before.ClusterRoleBindings[0].Name != after.ClusterRoleBindings[0].Name {
		t.Error("a rename changed the object's name")
	}
}

// TestClusterMemberRulesClusterScopedOnly guards the cluster-member role
// against growing a namespaced kind or a write verb.
func TestClusterMemberRulesClusterScopedOnly(t *testing.T) {
	clusterScoped := map[string]bool{
		"/nodes": true, "/namespaces": true, "/persistentvolumes": true,
		"storage.k8s.io/storageclasses": true, "storage.k8s.io/csidrivers": true, "storage.k8s.io/csinodes": true,
		"apiextensions.k8s.io/customresourcedefinitions": true, "scheduling.k8s.io/priorityclasses": true,
		"node.k8s.io/runtimeclasses": true, "networking.k8s.io/ingressclasses": true,
	}
	seen := map[string]bool{}
	for _, r := range downstream.ClusterMemberRules() {
		if diff := cmp.Diff([]string{"get", "list", "watch"}, r.Verbs); diff != "" {
			t.Errorf("verbs of %v (-want +got):\n%s", r.Resources, diff)
		}
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("unexpected rule %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if !clusterScoped[g+"/"+res] {
					t.Errorf("rule grants %s/%s, not in the cluster-scoped list", g, res)
				}
				seen[g+"/"+res] = true
			}
		}
	}
	if diff := cmp.Diff(clusterScoped, seen); diff != "" {
		t.Errorf("kinds granted (-want +got):\n%s", diff)
	}
}
