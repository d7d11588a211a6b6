package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
)

type bindingRequest struct {
	Scope     string `json:"scope"`
	ClusterID string `json:"clusterId"`
	ProjectID string `json:"projectId"`
	Role      string `json:"role"`
	Kind      string `json:"subjectKind"`
	// Subject is a group name, or a user's id or username (the id is
	// stored, so a renamed user keeps its bindings).
	Subject string `json:"subject"`
}

// bindingView is a binding with its user's current username.
type bindingView struct {
	store.Binding
	Username string `json:"username,omitempty"`
}

func (a *API) bindingView(ctx context.Context, b store.Binding) bindingView {
	v := bindingView{Binding: b}
	if b.Kind == store.SubjectUser {
		if u, err := a.opts.Store.UserByID(ctx, b.Subject); err == nil {
			v.Username = u.Username
		}
	}
	return v
}

// visibility answers "may the caller see this binding?": admins see all,
// owners of a cluster see its bindings, everyone sees their own. Rights are
// read once per cluster.
type visibility struct {
	a      *API
	id     authn.Identity
	owners map[string]bool
}

func (v *visibility) sees(ctx context.Context, b store.Binding) (bool, error) {
	if v.id.Admin && v.id.ClusterID == "" || subjectIs(v.id, b) {
		return true, nil
	}
	if b.ClusterID == "" {
		return false, nil
	}
	owner, ok := v.owners[b.ClusterID]
	if !ok {
		rt, err := v.a.rights(ctx, v.id, b.ClusterID)
		if err != nil {
			return false, err
		}
		owner = rt.owner
		v.owners[b.ClusterID] = owner
	}
	return owner, nil
}

func (a *API) listBindings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.BindingFilter{Scope: q.Get("scope"), ClusterID: q.Get("clusterId"), ProjectID: q.Get("projectId")}
	if _, ok := access.Roles[f.Scope]; f.Scope != "" && !ok {
		apierr.Invalid(w, "scope %q must be one of global, cluster, project", f.Scope)
		return
	}
	if f.ProjectID != "" {
		p, err := a.opts.Store.Project(r.Context(), f.ProjectID)
		if err != nil {
			a.storeError(w, fmt.Sprintf("project %q", f.ProjectID), err)
			return
		}
		if f.ClusterID == "" {
			f.ClusterID = p.ClusterID
		}
	}
	if f.ClusterID != "" {
		rt, ok := a.clusterRightsOr404(w, r, f.ClusterID)
		if !ok {
			return
		}
		if !rt.member {
			a.forbidMember(w, r, f.ClusterID)
			return
		}
	}
	all, err := a.opts.Store.ListBindings(r.Context(), f)
	if err != nil {
		a.storeError(w, "bindings", err)
		return
	}
	vis := &visibility{a: a, id: identity(r.Context()), owners: map[string]bool{}}
	out := []bindingView{}
	for _, b := range all {
		ok, err := vis.sees(r.Context(), b)
		if err != nil {
			a.storeError(w, "bindings", err)
			return
		}
		if ok {
			out = append(out, a.bindingView(r.Context(), b))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) getBinding(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	b, err := a.opts.Store.Binding(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("binding %q", id), err)
		return
	}
	vis := &visibility{a: a, id: identity(r.Context()), owners: map[string]bool{}}
	ok, err := vis.sees(r.Context(), b)
	if err != nil {
		a.storeError(w, "bindings", err)
		return
	}
	if !ok {
		apierr.Forbidden(w, "binding %q is neither yours nor in a cluster you own; only Drover admins and the cluster's owners may read it", id)
		return
	}
	writeJSON(w, http.StatusOK, a.bindingView(r.Context(), b))
}

func (a *API) createBinding(w http.ResponseWriter, r *http.Request) {
	var req bindingRequest
	if !decode(w, r, &req) {
		return
	}
	caller := identity(r.Context())
	if err := access.CheckRole(req.Scope, req.Role); err != nil {
		apierr.Invalid(w, "%v", err)
		return
	}
	if err := access.CheckSubject(req.Kind, req.Subject); err != nil {
		apierr.Invalid(w, "%v", err)
		return
	}
	b := store.Binding{Scope: req.Scope, Role: req.Role, Kind: req.Kind, Subject: req.Subject, CreatedAt: a.opts.Now().UTC()}
	switch req.Scope {
	case store.ScopeGlobal:
		if req.ClusterID != "" || req.ProjectID != "" {
			apierr.Invalid(w, "a global binding takes neither clusterId nor projectId")
			return
		}
		if !caller.Admin || caller.ClusterID != "" {
			apierr.Forbidden(w, "only Drover admins may grant global roles")
			return
		}
	case store.ScopeCluster:
		if req.ClusterID == "" || req.ProjectID != "" {
			apierr.Invalid(w, "a cluster binding needs clusterId and takes no projectId")
			return
		}
		rt, ok := a.clusterRightsOr404(w, r, req.ClusterID)
		if !ok {
			return
		}
		if !rt.owner {
			forbidOwner(w, req.ClusterID, "grant roles in it")
			return
		}
		b.ClusterID = req.ClusterID
	case store.ScopeProject:
		if req.ProjectID == "" {
			apierr.Invalid(w, "a project binding needs projectId")
			return
		}
		p, err := a.opts.Store.Project(r.Context(), req.ProjectID)
		if err != nil {
			a.storeError(w, fmt.Sprintf("project %q", req.ProjectID), err)
			return
		}
		if req.ClusterID != "" && req.ClusterID != p.ClusterID {
			apierr.Invalid(w, "project %q belongs to cluster %q, not %q; omit clusterId or give the project's", p.ID, p.ClusterID, req.ClusterID)
			return
		}
		rt, err := a.rights(r.Context(), caller, p.ClusterID)
		if err != nil {
			a.storeError(w, "bindings", err)
			return
		}
		if !rt.owner {
			forbidOwner(w, p.ClusterID, "grant roles in its projects")
			return
		}
		// Membership queries and the controller find project bindings by
		// their cluster.
		b.ClusterID, b.ProjectID = p.ClusterID, p.ID
	}
	username := ""
	if b.Kind == store.SubjectUser {
		u, err := a.lookupUser(r.Context(), req.Subject)
		if errors.Is(err, store.ErrNotFound) {
			apierr.Invalid(w, "user %q does not exist; give a user id or username from GET /v3/users", req.Subject)
			return
		} else if err != nil {
			a.storeError(w, "user", err)
			return
		}
		b.Subject, username = u.ID, u.Username
	}
	id, err := ids.Binding.New()
	if err != nil {
		a.opts.Logger.Error("binding id", "err", err)
		apierr.Internal(w)
		return
	}
	b.ID = id
	if err := a.opts.Store.CreateBinding(r.Context(), b); err != nil {
		a.storeError(w, fmt.Sprintf("%s binding of %s %q as %s", b.Scope, b.Kind, req.Subject, b.Role), err)
		return
	}
	a.accessChanged()
	a.opts.Logger.Info("binding created", "binding", b.ID, "scope", b.Scope, "cluster", b.ClusterID, "project", b.ProjectID,
		"role", b.Role, "subject_kind", b.Kind, "subject", b.Subject, "by", caller.Username)
	writeJSON(w, http.StatusCreated, bindingView{Binding: b, Username: username})
}

func (a *API) deleteBinding(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	b, err := a.opts.Store.Binding(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("binding %q", id), err)
		return
	}
	caller := identity(r.Context())
	if b.Scope == store.ScopeGlobal {
		if !caller.Admin || caller.ClusterID != "" {
			apierr.Forbidden(w, "only Drover admins may remove global bindings")
			return
		}
		admins, err := a.opts.Store.ListBindings(r.Context(), store.BindingFilter{Scope: store.ScopeGlobal})
		if err != nil {
			a.storeError(w, "bindings", err)
			return
		}
		if b.Role == access.RoleAdmin && len(admins) <= 1 {
			apierr.Conflict(w, "binding %q is the last global admin binding; grant admin to someone else first", id)
			return
		}
	} else {
		rt, err := a.rights(r.Context(), caller, b.ClusterID)
		if err != nil {
			a.storeError(w, "bindings", err)
			return
		}
		if !rt.owner {
			forbidOwner(w, b.ClusterID, "remove roles in it")
			return
		}
	}
	if err := a.opts.Store.DeleteBinding(r.Context(), id); err != nil {
		a.storeError(w, fmt.Sprintf("binding %q", id), err)
		return
	}
	a.accessChanged()
	a.opts.Logger.Info("binding deleted", "binding", id, "scope", b.Scope, "cluster", b.ClusterID, "by", caller.Username)
	w.WriteHeader(http.StatusNoContent)
}
