package access

import (
	"cmp"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/store"
)

// What each binding becomes downstream (the only place this is decided):
//
//	global  admin           nothing per binding: the user's groups carry
//	                        downstream.AdminGroup, which the agent binds to
//	                        cluster-admin in every cluster
//	cluster cluster-owner   ClusterRoleBinding to cluster-admin
//	cluster cluster-member  ClusterRoleBinding to downstream.ClusterMemberRole
//	cluster read-only       ClusterRoleBindings to view and to
//	                        downstream.ClusterMemberRole
//	project project-owner   RoleBinding to ClusterRole admin in each of the
//	                        project's namespaces
//	project project-member  RoleBinding to ClusterRole edit, likewise
//	project read-only       RoleBinding to ClusterRole view, likewise
//
// A user binding's subject is User <the user's current username>; a group
// binding's is Group <the group>.
var (
	clusterRoleRefs = map[string][]string{
		RoleClusterOwner:  {"cluster-admin"},
		RoleClusterMember: {downstream.ClusterMemberRole},
		RoleReadOnly:      {"view", downstream.ClusterMemberRole},
	}
	projectRoleRefs = map[string]string{
		RoleProjectOwner:  "admin",
		RoleProjectMember: "edit",
		RoleReadOnly:      "view",
	}
)

// DesiredInput is what one cluster's RBAC is computed from.
type DesiredInput struct {
	ClusterID string
	// Bindings may include other clusters' and global bindings; they are
	// ignored.
	Bindings []store.Binding
	Projects []store.Project
	// Usernames maps user ids to current usernames. A user binding whose
	// user is missing here (deleted) yields nothing.
	Usernames map[string]string
}

// DesiredRBAC are the ClusterRoleBindings and RoleBindings Drover's bindings
// call for in one cluster, sorted by namespace and name.
type DesiredRBAC struct {
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	RoleBindings        []rbacv1.RoleBinding
}

// BindingObjectName is the name of the object written for binding id and
// downstream ClusterRole role: the same in every namespace, so an object's
// name says which binding and role it stands for.
func BindingObjectName(bindingID, role string) string {
	return "drover-" + bindingID + "-" + role
}

// Desired computes the downstream RBAC objects of one cluster. It is pure:
// the same input gives the same output.
func Desired(in DesiredInput) DesiredRBAC {
	projects := map[string]store.Project{}
	for _, p := range in.Projects {
		if p.ClusterID == in.ClusterID {
			projects[p.ID] = p
		}
	}
	out := DesiredRBAC{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{}, RoleBindings: []rbacv1.RoleBinding{}}
	for _, b := range in.Bindings {
		if b.ClusterID != in.ClusterID {
			continue
		}
		subject, ok := bindingSubject(b, in.Usernames)
		if !ok {
			continue
		}
		switch b.Scope {
		case store.ScopeCluster:
			for _, role := range clusterRoleRefs[b.Role] {
				out.ClusterRoleBindings = append(out.ClusterRoleBindings, rbacv1.ClusterRoleBinding{
					ObjectMeta: objectMeta(b.ID, role, ""),
					RoleRef:    clusterRoleRef(role),
					Subjects:   []rbacv1.Subject{subject},
				})
			}
		case store.ScopeProject:
			p, ok := projects[b.ProjectID]
			role, known := projectRoleRefs[b.Role]
			if !ok || !known {
				continue
			}
			for _, ns := range p.Namespaces {
				out.RoleBindings = append(out.RoleBindings, rbacv1.RoleBinding{
					ObjectMeta: objectMeta(b.ID, role, ns),
					RoleRef:    clusterRoleRef(role),
					Subjects:   []rbacv1.Subject{subject},
				})
			}
		}
	}
	slices.SortFunc(out.ClusterRoleBindings, func(a, b rbacv1.ClusterRoleBinding) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(out.RoleBindings, func(a, b rbacv1.RoleBinding) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func bindingSubject(b store.Binding, usernames map[string]string) (rbacv1.Subject, bool) {
	switch b.Kind {
	case store.SubjectUser:
		name, ok := usernames[b.Subject]
		if !ok || name == "" {
			return rbacv1.Subject{}, false
		}
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}, true
	case store.SubjectGroup:
		if b.Subject == "" {
			return rbacv1.Subject{}, false
		}
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: b.Subject}, true
	}
	return rbacv1.Subject{}, false
}

func objectMeta(bindingID, role, namespace string) metav1.ObjectMeta {
	labels := downstream.Labels()
	labels[downstream.BindingLabel] = bindingID
	return metav1.ObjectMeta{Name: BindingObjectName(bindingID, role), Namespace: namespace, Labels: labels}
}

func clusterRoleRef(name string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
}
