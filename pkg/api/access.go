package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
)

// Who may do what (the same rules in every handler here):
//
//   - global admins: anything;
//   - an owner of a cluster (cluster-owner, directly or through a group):
//     that cluster's projects, and its cluster and project bindings; never a
//     global binding;
//   - a member of a cluster (any binding in it or its projects): read its
//     projects, and the bindings it is the subject of;
//   - anyone else: 403 for an object that exists, 404 for one that does not
//     (as the proxy answers for clusters).
//
// A token scoped to one cluster acts as a non-member everywhere else.

// accessRoutes registers projects and bindings.
func (a *API) accessRoutes(r *access.Routes) {
	r.Handle(http.MethodGet, "/v3/clusters/{id}/projects", access.Unscoped, a.listProjects)
	r.Handle(http.MethodPost, "/v3/clusters/{id}/projects", access.Unscoped, a.createProject)
	r.Handle(http.MethodGet, "/v3/projects/{id}", access.Unscoped, a.getProject)
	r.Handle(http.MethodPut, "/v3/projects/{id}", access.Unscoped, a.updateProject)
	r.Handle(http.MethodDelete, "/v3/projects/{id}", access.Unscoped, a.deleteProject)
	r.Handle(http.MethodGet, "/v3/bindings", access.Unscoped, a.listBindings)
	r.Handle(http.MethodPost, "/v3/bindings", access.Unscoped, a.createBinding)
	r.Handle(http.MethodGet, "/v3/bindings/{id}", access.Unscoped, a.getBinding)
	r.Handle(http.MethodDelete, "/v3/bindings/{id}", access.Unscoped, a.deleteBinding)
}

// clusterRights is what the caller may do in one cluster.
type clusterRights struct {
	owner  bool // manage projects and bindings
	member bool // see the cluster, its projects
}

// rights reads the caller's rights in a cluster that exists: none unless
// the caller may reach the cluster (access.Checker), all for admins, owner
// with a cluster-owner binding, member otherwise.
func (a *API) rights(ctx context.Context, id authn.Identity, clusterID string) (clusterRights, error) {
	v, err := a.opts.Reach.MayReach(ctx, access.CallerOf(id), clusterID)
	if err != nil || v != access.Allowed {
		return clusterRights{}, err
	}
	if id.Admin {
		return clusterRights{owner: true, member: true}, nil
	}
	bindings, err := a.opts.Store.ListBindings(ctx, store.BindingFilter{Scope: store.ScopeCluster, ClusterID: clusterID})
	if err != nil {
		return clusterRights{}, err
	}
	for _, b := range bindings {
		if b.Role == access.RoleClusterOwner && subjectIs(id, b) {
			return clusterRights{owner: true, member: true}, nil
		}
	}
	return clusterRights{member: true}, nil
}

// subjectIs reports whether a binding is the caller's own, directly or
// through one of its groups.
func subjectIs(id authn.Identity, b store.Binding) bool {
	switch b.Kind {
	case store.SubjectUser:
		return b.Subject == id.UserID
	case store.SubjectGroup:
		return slices.Contains(id.Groups, b.Subject)
	}
	return false
}

// clusterRightsOr404 looks the cluster up and reads the caller's rights in
// it, answering the error itself (false) when the cluster is missing or the
// store fails.
func (a *API) clusterRightsOr404(w http.ResponseWriter, r *http.Request, clusterID string) (clusterRights, bool) {
	if _, err := a.opts.Store.Cluster(r.Context(), clusterID); err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", clusterID), err)
		return clusterRights{}, false
	}
	rt, err := a.rights(r.Context(), identity(r.Context()), clusterID)
	if err != nil {
		a.storeError(w, "bindings", err)
		return clusterRights{}, false
	}
	return rt, true
}

func forbidOwner(w http.ResponseWriter, clusterID, what string) {
	apierr.Forbidden(w, "only Drover admins and owners of cluster %q may %s; ask one of them for a cluster-owner binding",
		clusterID, what)
}

// forbidMember refuses a caller who may not reach the cluster, as the
// proxy would.
func (a *API) forbidMember(w http.ResponseWriter, r *http.Request, clusterID string) {
	id := identity(r.Context())
	v, err := a.opts.Reach.MayReach(r.Context(), access.CallerOf(id), clusterID)
	if err != nil {
		a.storeError(w, "clusters", err)
		return
	}
	if v == access.Allowed { // changed meanwhile; refuse all the same
		v = access.NotMember
	}
	access.Refuse(w, v, id.Username, clusterID)
}

type projectRequest struct {
	Name       string   `json:"name"`
	Namespaces []string `json:"namespaces"`
}

// checkNamespaces validates a project's namespace list and that no other
// project of the cluster holds one of them (409). It answers the error
// itself and returns false.
func (a *API) checkNamespaces(w http.ResponseWriter, r *http.Request, clusterID, projectID string, nss []string) bool {
	seen := map[string]bool{}
	for _, ns := range nss {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			apierr.Invalid(w, "namespace %q: %s", ns, strings.Join(errs, "; "))
			return false
		}
		if ns == downstream.Namespace {
			apierr.Invalid(w, "namespace %q holds Drover's agent and token Secrets and cannot be part of a project", ns)
			return false
		}
		if seen[ns] {
			apierr.Invalid(w, "namespace %q is listed twice", ns)
			return false
		}
		seen[ns] = true
	}
	projects, err := a.opts.Store.ListProjects(r.Context(), clusterID)
	if err != nil {
		a.storeError(w, "projects", err)
		return false
	}
	for _, p := range projects {
		if p.ID == projectID {
			continue
		}
		for _, ns := range p.Namespaces {
			if seen[ns] {
				apierr.Conflict(w, "namespace %q already belongs to project %q (%s) of cluster %q; remove it there first",
					ns, p.Name, p.ID, clusterID)
				return false
			}
		}
	}
	return true
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) {
	clusterID := mux.Vars(r)["id"]
	rt, ok := a.clusterRightsOr404(w, r, clusterID)
	if !ok {
		return
	}
	if !rt.member {
		a.forbidMember(w, r, clusterID)
		return
	}
	ps, err := a.opts.Store.ListProjects(r.Context(), clusterID)
	if err != nil {
		a.storeError(w, "projects", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(ps)})
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) {
	clusterID := mux.Vars(r)["id"]
	rt, ok := a.clusterRightsOr404(w, r, clusterID)
	if !ok {
		return
	}
	if !rt.owner {
		forbidOwner(w, clusterID, "create projects in it")
		return
	}
	var req projectRequest
	if !decode(w, r, &req) {
		return
	}
	if len(validation.IsDNS1123Label(req.Name)) > 0 {
		apierr.Invalid(w, dnsLabelRule)
		return
	}
	if req.Namespaces == nil {
		req.Namespaces = []string{}
	}
	if !a.checkNamespaces(w, r, clusterID, "", req.Namespaces) {
		return
	}
	id, err := ids.Project.New()
	if err != nil {
		a.opts.Logger.Error("project id", "err", err)
		apierr.Internal(w)
		return
	}
	p := store.Project{ID: id, ClusterID: clusterID, Name: req.Name, Namespaces: req.Namespaces, CreatedAt: a.opts.Now().UTC()}
	if err := a.opts.Store.CreateProject(r.Context(), p); err != nil {
		a.storeError(w, fmt.Sprintf("project named %q in cluster %q", req.Name, clusterID), err)
		return
	}
	a.accessChanged()
	a.opts.Logger.Info("project created", "project", p.ID, "cluster", clusterID, "by", identity(r.Context()).Username)
	writeJSON(w, http.StatusCreated, p)
}

// projectFor loads a project and the caller's rights in its cluster,
// answering the error itself (false).
func (a *API) projectFor(w http.ResponseWriter, r *http.Request) (store.Project, clusterRights, bool) {
	id := mux.Vars(r)["id"]
	p, err := a.opts.Store.Project(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("project %q", id), err)
		return store.Project{}, clusterRights{}, false
	}
	rt, err := a.rights(r.Context(), identity(r.Context()), p.ClusterID)
	if err != nil {
		a.storeError(w, "bindings", err)
		return store.Project{}, clusterRights{}, false
	}
	return p, rt, true
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request) {
	p, rt, ok := a.projectFor(w, r)
	if !ok {
		return
	}
	if !rt.member {
		a.forbidMember(w, r, p.ClusterID)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) updateProject(w http.ResponseWriter, r *http.Request) {
	p, rt, ok := a.projectFor(w, r)
	if !ok {
		return
	}
	if !rt.owner {
		forbidOwner(w, p.ClusterID, "change its projects")
		return
	}
	var req projectRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Name != "" && req.Name != p.Name {
		apierr.Invalid(w, "a project cannot be renamed; only namespaces may change")
		return
	}
	if req.Namespaces == nil {
		apierr.Invalid(w, `namespaces is required (the full list; [] empties the project)`)
		return
	}
	if !a.checkNamespaces(w, r, p.ClusterID, p.ID, req.Namespaces) {
		return
	}
	err := a.opts.Store.SetProjectNamespaces(r.Context(), p.ID, req.Namespaces)
	if errors.Is(err, store.ErrConflict) { // claimed by another project since checkNamespaces
		apierr.Conflict(w, "a namespace of project %q now belongs to another project of cluster %q; list the projects and try again", p.ID, p.ClusterID)
		return
	}
	if err != nil {
		a.storeError(w, fmt.Sprintf("project %q", p.ID), err)
		return
	}
	a.accessChanged()
	p.Namespaces = req.Namespaces
	a.opts.Logger.Info("project namespaces set", "project", p.ID, "namespaces", p.Namespaces, "by", identity(r.Context()).Username)
	writeJSON(w, http.StatusOK, p)
}

func (a *API) deleteProject(w http.ResponseWriter, r *http.Request) {
	p, rt, ok := a.projectFor(w, r)
	if !ok {
		return
	}
	if !rt.owner {
		forbidOwner(w, p.ClusterID, "delete its projects")
		return
	}
	if err := a.opts.Store.DeleteProject(r.Context(), p.ID); err != nil {
		a.storeError(w, fmt.Sprintf("project %q", p.ID), err)
		return
	}
	a.accessChanged()
	a.opts.Logger.Info("project deleted", "project", p.ID, "cluster", p.ClusterID, "by", identity(r.Context()).Username)
	w.WriteHeader(http.StatusNoContent)
}

// lookupUser finds a user by id, then by username.
func (a *API) lookupUser(ctx context.Context, ref string) (store.User, error) {
	u, err := a.opts.Store.UserByID(ctx, ref)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	users, err := a.opts.Store.ListUsers(ctx)
	if err != nil {
		return store.User{}, err
	}
	for _, u := range users {
		if u.Username == ref {
			return u, nil
		}
	}
	return store.User{}, fmt.Errorf("user %q: %w", ref, store.ErrNotFound)
}
