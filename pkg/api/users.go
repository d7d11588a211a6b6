package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/store"
)

// userRoutes registers user administration (global admins only).
// GET /v3/users/me is registered before and wins over {id}.
func (a *API) userRoutes(r *access.Routes) {
	r.Handle(http.MethodGet, "/v3/users/{id}", access.Unscoped, a.admin(a.getUser))
	r.Handle(http.MethodPut, "/v3/users/{id}", access.Unscoped, a.admin(a.updateUser))
	r.Handle(http.MethodDelete, "/v3/users/{id}", access.Unscoped, a.admin(a.deleteUser))
	r.Handle(http.MethodPost, "/v3/users/{id}/refresh", access.Unscoped, a.admin(a.refreshUser))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	u, err := a.opts.Store.UserByID(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("user %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

type updateUserRequest struct {
	// Disabled, when set, disables (deleting every token of the user) or
	// enables.
	Disabled *bool `json:"disabled"`
	// Password, when set, replaces a local user's password (ending its
	// login sessions).
	Password *string `json:"password"`
}

// updateUser validates the whole request before it changes anything, then
// applies it in one store transaction: a bad request, or a failure half
// way, changes nothing.
func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var req updateUserRequest
	if !decode(w, r, &req) {
		return
	}
	caller := identity(r.Context())
	u, err := a.opts.Store.UserByID(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("user %q", id), err)
		return
	}
	if msg := checkUserUpdate(req, u, caller.UserID); msg != "" {
		apierr.Invalid(w, "%s", msg)
		return
	}
	change := store.UserChange{Disabled: req.Disabled}
	if req.Password != nil {
		if change.PasswordHash, err = a.opts.Local.Hash(*req.Password); err != nil {
			a.opts.Logger.Error("hash password", "err", err)
			apierr.Internal(w)
			return
		}
	}
	if err := a.changeUser(r.Context(), u.ID, func(ctx context.Context) ([]string, error) {
		return a.opts.Store.UpdateUser(ctx, u.ID, change)
	}); err != nil {
		a.storeError(w, fmt.Sprintf("user %q", id), err)
		return
	}
	a.opts.Logger.Info("user updated", "user", u.Username, "user_id", u.ID, "disabled", req.Disabled,
		"password_changed", req.Password != nil, "by", caller.Username)
	if u, err = a.opts.Store.UserByID(r.Context(), id); err != nil {
		a.storeError(w, fmt.Sprintf("user %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// checkUserUpdate returns why req cannot be applied to u by the caller, or
// "" when it can. It changes nothing.
func checkUserUpdate(req updateUserRequest, u store.User, callerID string) string {
	switch {
	case req.Disabled == nil && req.Password == nil:
		return "nothing to change: set disabled, password, or both"
	case req.Disabled != nil && *req.Disabled && u.ID == callerID:
		return "you cannot disable yourself; ask another admin"
	case req.Password != nil && u.Provider != store.LocalProvider:
		return fmt.Sprintf("user %q logs in through auth provider %q: its password is the provider's to change", u.Username, u.Provider)
	}
	if req.Password != nil {
		if err := local.CheckNewPassword(*req.Password); err != nil {
			return strings.TrimPrefix(err.Error(), "invalid: ")
		}
	}
	return ""
}

// changeUser applies change to a user and makes it hold at once: every
// token of the user, listed before the change, and every token change
// reports it deleted, leaves the caches (its streams end), and access
// answers are recomputed. When change fails nothing is dropped: it changed
// nothing.
func (a *API) changeUser(ctx context.Context, userID string, change func(context.Context) (deleted []string, err error)) error {
	toks, err := a.opts.Store.ListTokens(ctx, userID)
	if err != nil {
		return fmt.Errorf("list tokens of %q: %w", userID, err)
	}
	deleted, err := change(ctx)
	if err != nil {
		return err
	}
	for _, t := range toks {
		a.opts.Tokens.Invalidate(t.ID)
	}
	for _, id := range deleted {
		a.opts.Tokens.Invalidate(id)
	}
	a.accessChanged()
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	caller := identity(r.Context())
	if id == caller.UserID {
		apierr.Invalid(w, "you cannot delete yourself; ask another admin")
		return
	}
	if err := a.changeUser(r.Context(), id, func(ctx context.Context) ([]string, error) {
		return nil, a.opts.Store.DeleteUser(ctx, id) // its tokens go by cascade
	}); err != nil {
		a.storeError(w, fmt.Sprintf("user %q", id), err)
		return
	}
	a.opts.Logger.Info("user deleted", "user_id", id, "by", caller.Username)
	w.WriteHeader(http.StatusNoContent)
}

type refreshResponse struct {
	User store.User `json:"user"`
	// Result is "refreshed", "unchanged" or "disabled" (the provider no
	// longer vouches for the user).
	Result string `json:"result"`
}

// refreshUser re-reads a user's names and groups from its provider now.
func (a *API) refreshUser(w http.ResponseWriter, r *http.Request) {
	if a.noProviders(w) {
		return
	}
	id := mux.Vars(r)["id"]
	ctx, cancel := context.WithTimeout(r.Context(), providerTimeout)
	defer cancel()
	res, err := a.opts.Providers.Refresh(ctx, id)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		apierr.NotFound(w, "user %q not found", id)
		return
	case errors.Is(err, registry.ErrNotExternal):
		apierr.Invalid(w, "user %q is a local user: it has no auth provider to refresh from", id)
		return
	case errors.Is(err, registry.ErrUserDisabled):
		apierr.Conflict(w, "user %q is disabled; enable it first with PUT /v3/users/%s {\"disabled\": false}", id, id)
		return
	case errors.Is(err, registry.ErrNotFound):
		apierr.Conflict(w, "the auth provider %q of user %q is not configured any more", res.User.Provider, id)
		return
	case errors.Is(err, providers.ErrNoRefresh):
		apierr.Conflict(w, "auth provider of user %q gave nothing to refresh with (no refresh token); its groups stay until it logs in again", id)
		return
	default:
		a.opts.Logger.Warn("refresh user", "user_id", id, "err", err)
		apierr.Unavailable(w, "the auth provider of user %q did not answer; the server log has the details, try again later", id)
		return
	}
	result := "unchanged"
	switch {
	case res.Disabled:
		result = "disabled"
	case res.Changed:
		result = "refreshed"
	}
	writeJSON(w, http.StatusOK, refreshResponse{User: res.User, Result: result})
}
