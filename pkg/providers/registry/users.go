package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

// Errors of Record and Refresh.
var (
	// ErrUserDisabled: the user is disabled in Drover. It wraps
	// providers.ErrInvalidCredentials: a login answers the generic 401.
	ErrUserDisabled = fmt.Errorf("%w: user is disabled", providers.ErrInvalidCredentials)
	// ErrNotExternal: the user is Drover's own; no provider refreshes it.
	ErrNotExternal = errors.New("local users have no auth provider to refresh from")
)

func refreshPurpose(userID string) string { return "drover/user/" + userID + "/refresh" }

// Username is the Drover username of a provider's user:
// "<provider>:<username>". It is the Impersonate-User value downstream, so
// it must be a valid header value: no control characters, valid UTF-8, no
// leading or trailing space (HTTP would trim it), at most
// providers.MaxUsername bytes after the prefix. The provider prefix keeps it
// out of Kubernetes' "system:" space and apart from local users, whose
// names cannot hold a colon.
func Username(provider, name string) (string, error) {
	if err := providers.CheckName(provider); err != nil {
		return "", err
	}
	if err := providers.CheckUsername(name); err != nil {
		return "", fmt.Errorf("username from %q: %w", provider, err)
	}
	if strings.TrimSpace(name) != name {
		return "", providers.InvalidCredentials("username from %q has leading or trailing space", provider)
	}
	return provider + ":" + name, nil
}

func principalKey(provider, id string) string { return provider + "\x00" + id }

// Record stores what a provider said at a login: it finds the user by
// (p.Provider, p.ID) or creates it, and records names, groups, when they
// were read and the sealed refresh credential. changed reports whether the
// user is new or its username or groups changed (access may differ). A
// disabled user is refused with ErrUserDisabled before anything is written.
func (r *Registry) Record(ctx context.Context, p providers.Principal) (u store.User, changed bool, err error) {
	if p.Provider == "" || p.ID == "" {
		return store.User{}, false, errors.New("record principal: no provider or id")
	}
	username, err := Username(p.Provider, p.Username)
	if err != nil {
		return store.User{}, false, err
	}
	defer r.locks.lock(principalKey(p.Provider, p.ID))()
	u, err = r.opts.Store.UserByExternalID(ctx, p.Provider, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		u, err = r.create(ctx, p, username)
		if !errors.Is(err, store.ErrConflict) {
			return u, err == nil, err
		}
		// Another replica created it meanwhile, or the name is taken.
		u, err = r.opts.Store.UserByExternalID(ctx, p.Provider, p.ID)
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, false, providers.InvalidCredentials("username %q is taken by another user; an admin must delete or rename it", username)
		}
	}
	if err != nil {
		return store.User{}, false, err
	}
	if u.Disabled {
		return store.User{}, false, fmt.Errorf("%s: %w", u.ID, ErrUserDisabled)
	}
	return r.update(ctx, u, p, username)
}

func (r *Registry) create(ctx context.Context, p providers.Principal, username string) (store.User, error) {
	id, err := token.RandomID("u-", 10)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{ID: id, Username: username, CreatedAt: r.opts.Now().UTC(), Provider: p.Provider, ExternalID: p.ID,
		DisplayName: p.DisplayName, Groups: p.Groups, GroupsAt: r.opts.Now().UTC()}
	if err := r.opts.Store.CreateUser(ctx, u, nil); err != nil {
		return store.User{}, err
	}
	if p.RefreshToken != "" {
		sealed, err := r.opts.Sealer.Seal([]byte(p.RefreshToken.Reveal()), refreshPurpose(id))
		if err != nil {
			return store.User{}, fmt.Errorf("seal refresh credential: %w", err)
		}
		if err := r.opts.Store.UpdateExternalUser(ctx, u, sealed); err != nil {
			return store.User{}, err
		}
	}
	r.opts.Logger.Info("user created from auth provider", "user", u.Username, "user_id", id, "provider", p.Provider,
		"groups", len(p.Groups))
	return r.opts.Store.UserByID(ctx, id)
}

// update writes p over u; the caller holds the principal's lock.
func (r *Registry) update(ctx context.Context, u store.User, p providers.Principal, username string) (store.User, bool, error) {
	changed := u.Username != username || !slices.Equal(u.Groups, p.Groups)
	var sealed []byte
	if p.RefreshToken != "" {
		var err error
		if sealed, err = r.opts.Sealer.Seal([]byte(p.RefreshToken.Reveal()), refreshPurpose(u.ID)); err != nil {
			return store.User{}, false, fmt.Errorf("seal refresh credential: %w", err)
		}
	}
	u.Username, u.DisplayName, u.Groups, u.GroupsAt = username, p.DisplayName, p.Groups, r.opts.Now().UTC()
	if err := r.opts.Store.UpdateExternalUser(ctx, u, sealed); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, false, providers.InvalidCredentials("username %q is taken by another user", username)
		}
		return store.User{}, false, err
	}
	u, err := r.opts.Store.UserByID(ctx, u.ID)
	return u, changed, err
}

// RefreshResult is what a refresh did.
type RefreshResult struct {
	User store.User
	// Changed: username or groups differ from before.
	Changed bool
	// Disabled: the provider no longer vouches for the user, who is now
	// disabled.
	Disabled bool
}

// Refresh re-reads a user from its provider. See the package doc for what
// each answer does. Listeners are told of every change it makes.
func (r *Registry) Refresh(ctx context.Context, userID string) (RefreshResult, error) {
	u, err := r.opts.Store.UserByID(ctx, userID)
	if err != nil {
		return RefreshResult{}, err
	}
	if u.Provider == store.LocalProvider {
		return RefreshResult{}, fmt.Errorf("user %q: %w", u.Username, ErrNotExternal)
	}
	defer r.locks.lock(principalKey(u.Provider, u.ExternalID))()
	// Re-read under the lock: a login may just have rotated the token.
	if u, err = r.opts.Store.UserByID(ctx, userID); err != nil {
		return RefreshResult{}, err
	}
	if u.Disabled {
		return RefreshResult{User: u}, fmt.Errorf("user %q is disabled: %w", u.Username, ErrUserDisabled)
	}
	p, err := r.Provider(ctx, u.Provider)
	if err != nil {
		return RefreshResult{User: u}, err
	}
	prev := providers.Principal{Provider: u.Provider, ID: u.ExternalID, Username: strings.TrimPrefix(u.Username, u.Provider+":"),
		DisplayName: u.DisplayName, Groups: u.Groups}
	sealed, err := r.opts.Store.UserRefresh(ctx, u.ID)
	if err != nil {
		return RefreshResult{}, err
	}
	if sealed != nil {
		plain, err := r.opts.Sealer.Open(sealed, refreshPurpose(u.ID))
		if err != nil {
			return RefreshResult{}, fmt.Errorf("unseal refresh credential of %q: %w", u.ID, err)
		}
		prev.RefreshToken = providers.Secret(plain)
	}
	next, err := p.Refresh(ctx, prev)
	switch {
	case errors.Is(err, providers.ErrInvalidCredentials):
		r.opts.Logger.Info("provider no longer vouches for user; disabling", "user", u.Username, "user_id", u.ID, "err", err)
		if derr := r.disable(ctx, u, "its auth provider refused it at refresh"); derr != nil {
			return RefreshResult{}, derr
		}
		u.Disabled = true
		return RefreshResult{User: u, Disabled: true}, nil
	case err != nil:
		return RefreshResult{User: u}, err
	case next.Provider != u.Provider || next.ID != u.ExternalID:
		return RefreshResult{User: u}, fmt.Errorf("refresh of %q answered for another principal", u.ID)
	}
	username, err := Username(next.Provider, next.Username)
	if err != nil {
		return RefreshResult{User: u}, fmt.Errorf("refresh of %q: %w", u.ID, err)
	}
	nu, changed, err := r.update(ctx, u, next, username)
	if err != nil {
		return RefreshResult{User: u}, err
	}
	if changed {
		r.opts.Logger.Info("user's groups or name changed at refresh", "user", nu.Username, "user_id", nu.ID,
			"groups", len(nu.Groups))
		r.accessChanged()
	}
	return RefreshResult{User: nu, Changed: changed}, nil
}

// disable disables u, deleting its sessions, and makes it hold at once:
// every token of u leaves the caches and its streams end.
func (r *Registry) disable(ctx context.Context, u store.User, why string) error {
	toks, err := r.opts.Store.ListTokens(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := r.opts.Store.SetUserDisabled(ctx, u.ID, true); err != nil {
		return err
	}
	if r.opts.Tokens != nil {
		for _, t := range toks {
			r.opts.Tokens.Invalidate(t.ID)
		}
	}
	r.opts.Logger.Warn("user disabled", "user", u.Username, "user_id", u.ID, "reason", why, "tokens", len(toks))
	r.accessChanged()
	return nil
}

// dropGroups removes the groups of u when, read again under the
// principal's lock, they are still older than MaxStale.
func (r *Registry) dropGroups(ctx context.Context, u store.User) error {
	defer r.locks.lock(principalKey(u.Provider, u.ExternalID))()
	u, err := r.opts.Store.UserByID(ctx, u.ID)
	if err != nil || len(u.Groups) == 0 || r.opts.Now().Sub(u.GroupsAt) <= r.opts.MaxStale {
		return err
	}
	u.Groups = nil
	if err := r.opts.Store.UpdateExternalUser(ctx, u, nil); err != nil {
		return err
	}
	r.accessChanged()
	return nil
}

func (r *Registry) accessChanged() {
	if r.opts.Access != nil {
		r.opts.Access.AccessChanged()
	}
}
