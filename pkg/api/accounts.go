package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/pkg/websession"
)

// RandomPassword returns a password with 144 bits from crypto/rand.
func RandomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// mintToken creates and stores a user token; the returned string is the
// only copy of its secret.
func (a *API) mintToken(ctx context.Context, userID, kind, clusterID, desc string, ttl time.Duration) (string, store.Token, error) {
	return a.mint(ctx, store.Token{UserID: userID, Kind: kind, ClusterID: clusterID, Description: desc}, ttl)
}

// mint stores a new token shaped like t, expiring ttl from now (or when t
// already says, if sooner).
func (a *API) mint(ctx context.Context, t store.Token, ttl time.Duration) (string, store.Token, error) {
	return a.mintReplacing(ctx, t, ttl, false, 0)
}

// mintReplacing is mint; with replace, the new token takes the place of
// the user's tokens of its kind, cluster and parent but the keep newest,
// which end at once.
func (a *API) mintReplacing(ctx context.Context, t store.Token, ttl time.Duration, replace bool, keep int) (string, store.Token, error) {
	tok, err := token.New(ids.Token)
	if err != nil {
		return "", store.Token{}, err
	}
	h, err := token.Hash(tok)
	if err != nil {
		return "", store.Token{}, err
	}
	now := a.opts.Now().UTC()
	t.ID, t.Hashed, t.CreatedAt = tok.ID, h, now
	if exp := now.Add(ttl); t.ExpiresAt.IsZero() || exp.Before(t.ExpiresAt) {
		t.ExpiresAt = exp
	}
	if !replace {
		if err := a.opts.Store.CreateToken(ctx, t); err != nil {
			return "", store.Token{}, err
		}
		return tok.String(), t, nil
	}
	gone, err := a.opts.Store.ReplaceToken(ctx, t, keep)
	if err != nil {
		return "", store.Token{}, err
	}
	for _, id := range gone {
		a.opts.Tokens.Invalidate(id)
		a.opts.Logger.Info("token replaced", "token_id", id, "by", t.ID)
	}
	return tok.String(), t, nil
}

// defaultMaxLiveTokens bounds the unexpired tokens (sessions included) one
// user may hold, so that no caller can fill the store or the clusters'
// token Secrets.
const defaultMaxLiveTokens = 1000

// issue mints the caller a token of kind, scoped to clusterID if set: the
// one place the rules of issuing are kept. A token scoped to a cluster goes
// only to those who may reach that cluster (access.Checker). A token minted
// with another token (not a login session) records it as its parent and
// never outlives it (scoped credentials never get here: the routes that
// mint are access.Unscoped); a kubeconfig token minted in a login session
// replaces that session's earlier one for the cluster. A user holds at most
// Options.MaxLiveTokens. It answers
// refusals itself and returns ok false.
func (a *API) issue(w http.ResponseWriter, r *http.Request, kind, clusterID, desc string, ttl time.Duration) (string, store.Token, bool) {
	ctx := r.Context()
	caller := identity(ctx)
	if clusterID != "" {
		v, err := a.opts.Reach.MayReach(ctx, access.CallerOf(caller), clusterID)
		if err != nil {
			a.storeError(w, "clusters", err)
			return "", store.Token{}, false
		}
		if v != access.Allowed {
			access.Refuse(w, v, caller.Username, clusterID)
			return "", store.Token{}, false
		}
	}
	n, err := a.opts.Store.CountLiveTokens(ctx, caller.UserID, a.opts.Now())
	if err != nil {
		a.storeError(w, "tokens", err)
		return "", store.Token{}, false
	}
	if n >= a.opts.MaxLiveTokens {
		a.opts.Logger.Warn("token refused: too many live tokens", "user", caller.Username, "tokens", n)
		apierr.Conflict(w, "user %q holds %d live tokens, the most one user may; revoke some (DELETE /v3/tokens/{id})", caller.Username, n)
		return "", store.Token{}, false
	}
	t := store.Token{UserID: caller.UserID, Kind: kind, ClusterID: clusterID, Description: desc}
	replace, keep := false, 0
	switch {
	case caller.TokenKind != store.KindSession:
		t.ParentID, t.ExpiresAt = caller.TokenID, caller.ExpiresAt
	case kind == store.KindKubeconfig:
		// One live kubeconfig token per login session and cluster: a
		// script that fetches its kubeconfig again and again replaces its
		// token instead of filling the user's MaxLiveTokens. It keeps its
		// own expiry, and outlives the session (store.deleteTokens).
		t.ParentID, replace = caller.TokenID, true
	case kind == store.KindPlugin || kind == store.KindPluginACE:
		// The credential plugin's tokens end with their session, and at
		// most two live per session and cluster: the new one, and the one
		// before, which kubectl processes may still hold until shortly
		// before it expires (package cli refreshes ahead of that).
		t.ParentID, t.ExpiresAt, replace, keep = caller.TokenID, caller.ExpiresAt, true, 1
	}
	secret, rec, err := a.mintReplacing(ctx, t, ttl, replace, keep)
	if err != nil {
		a.storeError(w, "token", err)
		return "", store.Token{}, false
	}
	return secret, rec, true
}

// newSession records a login session and returns its credential: a signed
// JWT naming the session when a signer is configured, else an opaque token.
func (a *API) newSession(ctx context.Context, userID string) (string, store.Token, error) {
	if a.opts.Sessions == nil {
		return a.mintToken(ctx, userID, store.KindSession, "", "login session", a.opts.SessionTTL)
	}
	// The row exists so that logout and revocation can delete the session;
	// its hash is of a random value nobody holds: the JWT is the credential.
	placeholder, err := token.New(ids.Session)
	if err != nil {
		return "", store.Token{}, err
	}
	h, err := token.Hash(placeholder)
	if err != nil {
		return "", store.Token{}, err
	}
	jwt, exp, err := a.opts.Sessions.Sign(userID, placeholder.ID)
	if err != nil {
		return "", store.Token{}, err
	}
	rec := store.Token{ID: placeholder.ID, UserID: userID, Kind: store.KindSession, Description: "login session",
		Hashed: h, CreatedAt: a.opts.Now().UTC(), ExpiresAt: exp.UTC()}
	if err := a.opts.Store.CreateToken(ctx, rec); err != nil {
		return "", store.Token{}, err
	}
	return jwt, rec, nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Provider is "" or "local" for Drover's own users, else the name of
	// a configured password provider (LDAP).
	Provider string `json:"provider,omitempty"`
	// Session is "" (the session token in the answer) or "cookie" (the
	// console's session cookie; see console.go).
	Session string `json:"session,omitempty"`
}

// checkLogin normalises req.Provider and refuses what must not reach a
// provider or a rate limiter key: names no provider can have, usernames
// and passwords over the providers' limits. Its errors are for the log;
// the client gets the generic 401.
func checkLogin(req *loginRequest) error {
	if req.Provider == "" {
		req.Provider = store.LocalProvider
	}
	if req.Provider != store.LocalProvider {
		if err := providers.CheckName(req.Provider); err != nil {
			return fmt.Errorf("provider: %w", err)
		}
	}
	if len(req.Username) > providers.MaxUsername || len(req.Password) > providers.MaxPassword {
		return errors.New("username or password too long")
	}
	return nil
}

type tokenResponse struct {
	Token     string    `json:"token,omitempty"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	ClusterID string    `json:"clusterId,omitempty"`
	Desc      string    `json:"description,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	LastUsed  time.Time `json:"lastUsedAt,omitzero"`
}

func tokenView(t store.Token) tokenResponse {
	return tokenResponse{ID: t.ID, Kind: t.Kind, ClusterID: t.ClusterID, Desc: t.Description,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsed: t.LastUsedAt}
}

const loginFailedMessage = "wrong username or password"

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decode(w, r, &req) {
		return
	}
	how, ok := deliveryOf(w, r, req.Session)
	if !ok {
		return
	}
	checkErr := checkLogin(&req)
	if req.Provider == store.LocalProvider {
		audit.SetUser(r.Context(), req.Username)
	} else {
		audit.SetUser(r.Context(), req.Provider+":"+req.Username)
	}
	if !a.allowAddress(w, r, req.Username) {
		return
	}
	if checkErr != nil {
		a.loginFailed(w, r, req.Provider, req.Username, checkErr)
		return
	}
	if req.Provider == store.LocalProvider {
		if a.allowUser(w, r, req.Username, local.LoginKey(req.Username)) {
			a.localLogin(w, r, req, how)
		}
		return
	}
	if a.opts.Providers == nil {
		a.loginFailed(w, r, req.Provider, req.Username, errors.New("no auth provider support"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), providerTimeout)
	defer cancel()
	pp, err := a.opts.Providers.PasswordProvider(ctx, req.Provider)
	if errors.Is(err, registry.ErrWrongFlow) {
		apierr.BadRequest(w, "auth provider %q logs in through a browser: POST /v3/login/%s/begin", req.Provider, req.Provider)
		return
	}
	if err != nil {
		a.loginFailed(w, r, req.Provider, req.Username, err)
		return
	}
	// Keyed on the name as the provider matches it: a respelling the
	// directory finds all the same (" alice", "ALICE") is the same user.
	if !a.allowUser(w, r, req.Username, req.Provider+":"+pp.LoginKey(req.Username)) {
		return
	}
	p, err := pp.Login(ctx, req.Username, req.Password)
	if err != nil {
		a.loginFailed(w, r, req.Provider, req.Username, err)
		return
	}
	a.completeLogin(w, r, p, how)
}

// localLogin is the login of Drover's own users (package local).
func (a *API) localLogin(w http.ResponseWriter, r *http.Request, req loginRequest, how delivery) {
	u, err := a.opts.Local.Authenticate(r.Context(), req.Username, req.Password)
	switch {
	case errors.Is(err, providers.ErrInvalidCredentials):
		a.loginFailed(w, r, req.Provider, req.Username, err)
		return
	case err != nil:
		a.opts.Logger.Error("login lookup", "err", err)
		apierr.Internal(w)
		return
	}
	a.startSession(w, r, u, how)
}

// loginFailed answers every failed login alike; why goes to the log only
// (errors from providers carry no secret).
func (a *API) loginFailed(w http.ResponseWriter, r *http.Request, provider, username string, why error) {
	level := slog.LevelInfo
	if !errors.Is(why, providers.ErrInvalidCredentials) && !errors.Is(why, registry.ErrNotFound) {
		level = slog.LevelWarn // the provider or the store did not answer, or a request no provider can take
	}
	a.opts.Logger.Log(r.Context(), level, "login failed", "provider", provider, "username", username,
		"remote", r.RemoteAddr, "err", why)
	apierr.Unauthorizedf(w, loginFailedMessage)
}

// completeLogin records what a provider said about the user and starts a
// session, unless the user is disabled.
func (a *API) completeLogin(w http.ResponseWriter, r *http.Request, p providers.Principal, how delivery) {
	if u, ok := a.recordLogin(w, r, p); ok {
		a.startSession(w, r, u, how)
	}
}

// recordLogin records what a provider said about the user, unless the
// user is disabled; it answers refusals itself and returns ok false.
func (a *API) recordLogin(w http.ResponseWriter, r *http.Request, p providers.Principal) (store.User, bool) {
	u, changed, err := a.opts.Providers.Record(r.Context(), p)
	if err != nil {
		if !errors.Is(err, providers.ErrInvalidCredentials) {
			a.opts.Logger.Error("record login", "provider", p.Provider, "id", p.ID, "err", err)
			apierr.Internal(w)
			return store.User{}, false
		}
		a.loginFailed(w, r, p.Provider, p.Username, err)
		return store.User{}, false
	}
	if changed {
		a.accessChanged()
	}
	return u, true
}

// startSession mints a login session for u and answers it as how says:
// its token, or the console's cookie (console.go).
func (a *API) startSession(w http.ResponseWriter, r *http.Request, u store.User, how delivery) {
	secret, rec, err := a.newSession(r.Context(), u.ID)
	if err != nil {
		a.opts.Logger.Error("mint session", "err", err)
		apierr.Internal(w)
		return
	}
	a.opts.Logger.Info("login", "user", u.Username, "provider", u.Provider, "token_id", rec.ID, "remote", r.RemoteAddr)
	if how != deliverToken {
		a.answerCookieSession(w, r, u, secret, rec, how)
		return
	}
	resp := tokenView(rec)
	resp.Token = secret
	writeJSON(w, http.StatusOK, resp)
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	id := identity(r.Context())
	gone, err := a.opts.Store.DeleteToken(r.Context(), id.TokenID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.storeError(w, "token", err)
		return
	}
	a.opts.Tokens.Invalidate(id.TokenID)
	a.invalidate(gone)
	if id.Cookie {
		websession.ClearCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	id := identity(r.Context())
	me := map[string]any{
		"id": id.UserID, "username": id.Username, "admin": id.Admin, "groups": id.Groups, "tokenId": id.TokenID,
	}
	if csrf, ok := csrfOf(r, id); ok {
		me["csrfToken"] = csrf
	}
	writeJSON(w, http.StatusOK, me)
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := a.opts.Store.ListUsers(r.Context())
	if err != nil {
		a.storeError(w, "users", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(users)})
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if !decode(w, r, &req) {
		return
	}
	u, err := a.opts.Local.CreateUser(r.Context(), local.NewUser{Username: req.Username, Password: req.Password, Admin: req.Admin})
	switch {
	case errors.Is(err, local.ErrInvalid):
		apierr.Invalid(w, "%s", strings.TrimPrefix(err.Error(), "invalid: "))
		return
	case err != nil:
		a.storeError(w, fmt.Sprintf("user %q", req.Username), err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

type createTokenRequest struct {
	ClusterID   string `json:"clusterId"`
	Description string `json:"description"`
	TTL         string `json:"ttl"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if !decode(w, r, &req) {
		return
	}
	ttl, err := a.ttl(req.TTL, a.opts.KubeconfigTTL)
	if err != nil {
		apierr.Invalid(w, "%v", err)
		return
	}
	if len(req.Description) > 256 {
		apierr.Invalid(w, "description must be at most 256 bytes")
		return
	}
	if req.ClusterID != "" {
		if _, err := a.opts.Store.Cluster(r.Context(), req.ClusterID); err != nil {
			a.storeError(w, fmt.Sprintf("cluster %q", req.ClusterID), err)
			return
		}
	}
	secret, rec, ok := a.issue(w, r, store.KindAPI, req.ClusterID, req.Description, ttl)
	if !ok {
		return
	}
	resp := tokenView(rec)
	resp.Token = secret
	writeJSON(w, http.StatusCreated, resp)
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := a.opts.Store.ListTokens(r.Context(), identity(r.Context()).UserID)
	if err != nil {
		a.storeError(w, "tokens", err)
		return
	}
	out := make([]tokenResponse, 0, len(toks))
	for _, t := range toks {
		out = append(out, tokenView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	tokenID := mux.Vars(r)["id"]
	caller := identity(r.Context())
	rec, err := a.opts.Store.Token(r.Context(), tokenID)
	// Another user's token answers like a missing one: ids are not secret,
	// but ownership is nobody else's business.
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.UserID != caller.UserID && !caller.Admin {
		apierr.NotFound(w, "token %q not found", tokenID)
		return
	}
	if err != nil {
		a.storeError(w, "token", err)
		return
	}
	gone, err := a.opts.Store.DeleteToken(r.Context(), tokenID)
	if err != nil {
		a.storeError(w, fmt.Sprintf("token %q", tokenID), err)
		return
	}
	a.invalidate(gone)
	a.opts.Logger.Info("token revoked", "token_id", tokenID, "by", caller.Username, "with_it", gone[1:])
	w.WriteHeader(http.StatusNoContent)
}

// invalidate makes the deletion of tokens hold at once on this server.
func (a *API) invalidate(tokenIDs []string) {
	for _, id := range tokenIDs {
		a.opts.Tokens.Invalidate(id)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
