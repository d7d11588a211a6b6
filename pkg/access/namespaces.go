package access

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/pkg/store"
)

// Namespaces is a set of one cluster's namespaces.
type Namespaces struct {
	// All is every namespace; Names are the namespaces otherwise.
	All   bool
	Names map[string]bool
}

// Has says whether namespace ns is in the set.
func (n Namespaces) Has(ns string) bool { return n.All || n.Names[ns] }

// readsNamespaced are the downstream ClusterRoles Drover binds (see
// desired.go) that read namespaced objects such as events: Kubernetes'
// cluster-admin, admin, edit and view. downstream.ClusterMemberRole reads
// cluster-scoped objects only.
var readsNamespaced = map[string]bool{"cluster-admin": true, "admin": true, "edit": true, "view": true}

// ReadableNamespaces says in which of a cluster's namespaces the caller
// reads namespaced objects, events included, by the RBAC its bindings
// become downstream (Desired): every namespace for a global admin and for a
// cluster-owner or cluster read-only; the project's namespaces for any role
// in a project; nothing for a cluster-member (cluster-scoped objects only),
// a disabled user or a credential scoped to another cluster. It is what
// Drover may show a caller of a cluster's namespaced state (the warning
// events of its status). It reads the store, not the caches.
func (c *Checker) ReadableNamespaces(ctx context.Context, caller Caller, clusterID string) (Namespaces, error) {
	switch {
	case caller.Disabled, caller.Scope != "" && caller.Scope != clusterID:
		return Namespaces{}, nil
	case caller.Admin:
		return Namespaces{All: true}, nil
	}
	bindings, err := c.store.CallerBindings(ctx, caller.UserID, clusterID)
	if err != nil {
		return Namespaces{}, fmt.Errorf("bindings of user %q in cluster %q: %w", caller.UserID, clusterID, err)
	}
	var projects []store.Project
	for _, b := range bindings {
		if b.Scope == store.ScopeProject {
			if projects, err = c.store.ListProjects(ctx, clusterID); err != nil {
				return Namespaces{}, fmt.Errorf("projects of cluster %q: %w", clusterID, err)
			}
			break
		}
	}
	return NamespacesOf(clusterID, bindings, projects), nil
}

// NamespacesOf is ReadableNamespaces' rule for a non-admin: the namespaces
// the given bindings (those of one user, directly and through groups) read
// in the cluster.
func NamespacesOf(clusterID string, bindings []store.Binding, projects []store.Project) Namespaces {
	byID := map[string]store.Project{}
	for _, p := range projects {
		if p.ClusterID == clusterID {
			byID[p.ID] = p
		}
	}
	out := Namespaces{Names: map[string]bool{}}
	for _, b := range bindings {
		if b.ClusterID != clusterID {
			continue
		}
		switch b.Scope {
		case store.ScopeCluster:
			for _, role := range clusterRoleRefs[b.Role] {
				if readsNamespaced[role] {
					return Namespaces{All: true}
				}
			}
		case store.ScopeProject:
			p, ok := byID[b.ProjectID]
			if !ok || !readsNamespaced[projectRoleRefs[b.Role]] {
				continue
			}
			for _, ns := range p.Namespaces {
				out.Names[ns] = true
			}
		}
	}
	return out
}
