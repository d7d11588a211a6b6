package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/store"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
	// RevokeTokens also revokes the caller's API and kubeconfig tokens
	// (but the one it calls with): for a password that may have leaked.
	RevokeTokens bool `json:"revokeTokens"`
}

type changePasswordResponse struct {
	// Revoked is how many of the caller's tokens ended: its other login
	// sessions, and with revokeTokens its API and kubeconfig tokens.
	Revoked int `json:"revoked"`
}

// changeOwnPassword is a local user's password change (POST
// /v3/users/me/password). It takes the current password, checked as a
// login is (and counted against the same login limits, so that a stolen
// session cannot guess it faster than a login could), and a new one under
// the rules of user creation. It ends the caller's other login sessions,
// and with revokeTokens every other token of the caller; the credential
// the request came with stays valid. API and kubeconfig tokens otherwise
// stay: they were issued deliberately, are listed by GET /v3/tokens with
// their last use, and a kubeconfig breaking at every password change would
// teach users to keep one password forever.
func (a *API) changeOwnPassword(w http.ResponseWriter, r *http.Request) {
	var req changePasswordRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	caller := identity(ctx)
	u, err := a.opts.Store.UserByID(ctx, caller.UserID)
	if err != nil {
		a.storeError(w, "user", err)
		return
	}
	if u.Provider != store.LocalProvider {
		apierr.Invalid(w, "user %q logs in through auth provider %q: its password is the provider's to change", u.Username, u.Provider)
		return
	}
	if !a.allowAddress(w, r, u.Username) || !a.allowUser(w, r, u.Username, local.LoginKey(u.Username)) {
		return
	}
	if _, err := a.opts.Local.Authenticate(ctx, u.Username, req.CurrentPassword); err != nil {
		if !errors.Is(err, providers.ErrInvalidCredentials) {
			a.opts.Logger.Error("password change: check the current password", "user", u.Username, "err", err)
			apierr.Internal(w)
			return
		}
		a.opts.Logger.Info("password change refused: wrong current password", "user", u.Username, "remote", r.RemoteAddr, "err", err)
		apierr.Forbidden(w, "currentPassword is not your current password")
		return
	}
	if err := local.CheckNewPassword(req.NewPassword); err != nil {
		apierr.Invalid(w, "newPassword: %s", strings.TrimPrefix(err.Error(), "invalid: "))
		return
	}
	if req.NewPassword == req.CurrentPassword {
		apierr.Invalid(w, "newPassword must differ from currentPassword")
		return
	}
	hash, err := a.opts.Local.Hash(req.NewPassword)
	if err != nil {
		a.opts.Logger.Error("hash password", "err", err)
		apierr.Internal(w)
		return
	}
	revoked, err := a.opts.Store.UpdateUser(ctx, u.ID, store.UserChange{PasswordHash: hash,
		RevokeTokens: req.RevokeTokens, KeepToken: caller.TokenID})
	if err != nil {
		a.storeError(w, "user", err)
		return
	}
	// Only the ended tokens leave the caches: the caller's own credential
	// keeps its open streams.
	for _, id := range revoked {
		a.opts.Tokens.Invalidate(id)
	}
	a.opts.Logger.Info("password changed by its user", "user", u.Username, "user_id", u.ID, "revoked", len(revoked),
		"revoke_tokens", req.RevokeTokens)
	writeJSON(w, http.StatusOK, changePasswordResponse{Revoked: len(revoked)})
}
