package access

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drover-dev/drover/pkg/store"
)

// Global roles. Every authenticated user holds RoleUser implicitly; a
// global binding can only grant RoleAdmin.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// Cluster roles.
const (
	// RoleClusterOwner is cluster-admin in the cluster.
	RoleClusterOwner = "cluster-owner"
	// RoleClusterMember reads cluster-scoped objects (nodes, namespaces,
	// storage classes, ...) and nothing namespaced: namespaces come through
	// projects.
	RoleClusterMember = "cluster-member"
	// RoleReadOnly reads everything a cluster member reads plus every
	// namespaced object but Secrets (Kubernetes' view role). In a project it
	// reads the project's namespaces only.
	RoleReadOnly = "read-only"
)

// Project roles (and RoleReadOnly).
const (
	// RoleProjectOwner is Kubernetes' admin role in the project's namespaces.
	RoleProjectOwner = "project-owner"
	// RoleProjectMember is Kubernetes' edit role in the project's namespaces.
	RoleProjectMember = "project-member"
)

// Roles lists the roles of each scope.
var Roles = map[string][]string{
	store.ScopeGlobal:  {RoleAdmin},
	store.ScopeCluster: {RoleClusterOwner, RoleClusterMember, RoleReadOnly},
	store.ScopeProject: {RoleProjectOwner, RoleProjectMember, RoleReadOnly},
}

// CheckRole says whether role exists in scope, naming the choices if not.
func CheckRole(scope, role string) error {
	roles, ok := Roles[scope]
	if !ok {
		return fmt.Errorf("scope %q must be one of global, cluster, project", scope)
	}
	if !slices.Contains(roles, role) {
		return fmt.Errorf("role %q does not exist in scope %s; use one of: %s", role, scope, strings.Join(roles, ", "))
	}
	return nil
}

// CheckSubject validates a binding's subject kind and, for groups, the name
// (users are checked against the store by the caller).
func CheckSubject(kind, subject string) error {
	switch kind {
	case store.SubjectUser:
		if subject == "" {
			return fmt.Errorf("subject (a user id) is required")
		}
	case store.SubjectGroup:
		if subject == "" || len(subject) > 1024 || strings.ContainsFunc(subject, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("group %q must be 1-1024 printable characters", subject)
		}
		if strings.HasPrefix(subject, "system:") {
			return fmt.Errorf("group %q is reserved by Kubernetes", subject)
		}
		if strings.HasPrefix(subject, "drover:") {
			return fmt.Errorf("group %q is reserved by Drover; bind the global admin role to make admins", subject)
		}
	default:
		return fmt.Errorf("subjectKind %q must be %q or %q", kind, store.SubjectUser, store.SubjectGroup)
	}
	return nil
}
