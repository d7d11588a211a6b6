package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
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
// "<provider>:<login>". It is the Impersonate-User value downstream, so
// it must be a valid header value: no control characters, valid UTF-8, no
// leading or trailing space (HTTP would trim it), at most
// providers.MaxUsername bytes after the prefix. The provider prefix keeps it
// out of Kubernetes' "system:" space and Drover's own "drover:" space
// (checked again here, whatever the provider's name) and apart from local
// users, whose names cannot hold a colon.
func Username(provider, login string) (string, error) {
	if err := providers.CheckName(provider); err != nil {
		return "", err
	}
	if err := providers.CheckUsername(login); err != nil {
		return "", fmt.Errorf("username from %q: %w", provider, err)
	}
	if !providers.ValidName(login, providers.MaxUsername) {
		return "", providers.InvalidCredentials("username from %q has leading or trailing space or is not a valid header value", provider)
	}
	username := provider + ":" + login
	if providers.Reserved(username) {
		return "", providers.InvalidCredentials("username %q is in a space reserved for Drover or Kubernetes", username)
	}
	return username, nil
}

// checkGroups checks p's groups again before they are stored, whatever the
// provider did: a group in a reserved space ("drover:", "system:") refuses
// the principal; one without the provider's prefix, or whose name is not
// usable as a header value (providers.ValidName), is dropped and counted
// in the log. The result is sorted without duplicates.
func (r *Registry) checkGroups(p providers.Principal) ([]string, error) {
	prefix := p.Provider + ":"
	out := make([]string, 0, len(p.Groups))
	dropped := 0
	for _, g := range p.Groups {
		if providers.Reserved(g) {
			return nil, providers.InvalidCredentials("auth provider %q answered group %q, in a space reserved for Drover or Kubernetes", p.Provider, g)
		}
		name, ok := strings.CutPrefix(g, prefix)
		if !ok || !providers.ValidName(name, providers.MaxGroupName) {
			dropped++
			continue
		}
		out = append(out, g)
	}
	if dropped > 0 {
		r.opts.Logger.Warn("groups left out: without the provider's prefix or not usable as header values",
			"provider", p.Provider, "id", p.ID, "count", dropped)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > providers.MaxGroups {
		return nil, fmt.Errorf("auth provider %q answered %d groups for %q, more than the %d allowed", p.Provider, len(out), p.ID, providers.MaxGroups)
	}
	return out, nil
}

// check validates what a provider said before anything is stored: the
// Drover username it makes, and its groups (see checkGroups).
func (r *Registry) check(p providers.Principal) (username string, groups []string, err error) {
	if p.Provider == "" || p.ID == "" {
		return "", nil, errors.New("principal without a provider or an id")
	}
	if username, err = Username(p.Provider, p.Username); err != nil {
		return "", nil, err
	}
	if groups, err = r.checkGroups(p); err != nil {
		return "", nil, err
	}
	return username, groups, nil
}

func principalKey(provider, id string) string { return provider + "\x00" + id }

// Record stores what a provider said at a login: it finds the user by
// (p.Provider, p.ID) or creates it as "<provider>:<login>", and records
// the login, display name, groups, when they were read and the sealed
// refresh credential. The username never changes after creation: it is the
// identity downstream RBAC names, and a name the provider gives up may be
// given to someone else. A new principal whose username is taken is refused
// (nobody is renamed). changed reports whether the user is new or its
// groups changed (access may differ). A disabled user, and any principal
// of a provider that is no longer configured, is refused before anything
// is written; every refusal wraps providers.ErrInvalidCredentials.
func (r *Registry) Record(ctx context.Context, p providers.Principal) (u store.User, changed bool, err error) {
	username, groups, err := r.check(p)
	if err != nil {
		return store.User{}, false, fmt.Errorf("record principal: %w", err)
	}
	p.Groups = groups
	defer r.locks.lock(principalKey(p.Provider, p.ID))()
	// The provider must still be configured: a login begun before it was
	// deleted must not create, update or revive anyone.
	if _, err := r.opts.Store.AuthProvider(ctx, p.Provider); errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, providers.InvalidCredentials("auth provider %q is not configured any more", p.Provider)
	} else if err != nil {
		return store.User{}, false, err
	}
	u, err = r.opts.Store.UserByExternalID(ctx, p.Provider, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		u, err = r.create(ctx, p, username)
		switch {
		case err == nil:
			return u, true, nil
		case errors.Is(err, store.ErrProviderGone):
			return store.User{}, false, providers.InvalidCredentials("auth provider %q was deleted during the login", p.Provider)
		case !errors.Is(err, store.ErrConflict):
			return store.User{}, false, err
		}
		// Another replica created it meanwhile, or the name is taken.
		u, err = r.opts.Store.UserByExternalID(ctx, p.Provider, p.ID)
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, false, providers.InvalidCredentials(
				"username %q is taken by another user (another principal of %q had it); an admin must delete that user first",
				username, p.Provider)
		}
	}
	if err != nil {
		return store.User{}, false, err
	}
	if u.Disabled {
		return store.User{}, false, fmt.Errorf("%s: %w", u.ID, ErrUserDisabled)
	}
	return r.update(ctx, u, p)
}

func (r *Registry) create(ctx context.Context, p providers.Principal, username string) (store.User, error) {
	id, err := ids.User.New()
	if err != nil {
		return store.User{}, err
	}
	var sealed []byte
	if p.RefreshToken != "" {
		if sealed, err = r.opts.Sealer.Seal([]byte(p.RefreshToken.Reveal()), refreshPurpose(id)); err != nil {
			return store.User{}, fmt.Errorf("seal refresh credential: %w", err)
		}
	}
	now := r.opts.Now().UTC()
	u := store.User{ID: id, Username: username, CreatedAt: now, Provider: p.Provider, ExternalID: p.ID,
		Login: p.Username, DisplayName: p.DisplayName, Groups: p.Groups, GroupsAt: now}
	if err := r.opts.Store.CreateExternalUser(ctx, u, sealed); err != nil {
		return store.User{}, err
	}
	r.opts.Logger.Info("user created from auth provider", "user", u.Username, "user_id", id, "provider", p.Provider,
		"groups", len(p.Groups))
	return r.opts.Store.UserByID(ctx, id)
}

// update writes p (checked) over u, keeping u's username; the caller holds
// the principal's lock. A user disabled or deleted meanwhile is
// ErrUserDisabled.
func (r *Registry) update(ctx context.Context, u store.User, p providers.Principal) (store.User, bool, error) {
	changed := !slices.Equal(u.Groups, p.Groups)
	var sealed []byte
	if p.RefreshToken != "" {
		var err error
		if sealed, err = r.opts.Sealer.Seal([]byte(p.RefreshToken.Reveal()), refreshPurpose(u.ID)); err != nil {
			return store.User{}, false, fmt.Errorf("seal refresh credential: %w", err)
		}
	}
	if u.Login != p.Username {
		r.opts.Logger.Info("user's login changed at the provider; the Drover username stays", "user", u.Username,
			"user_id", u.ID, "provider", u.Provider, "login", p.Username, "previous_login", u.Login)
	}
	u.Login, u.DisplayName, u.Groups, u.GroupsAt = p.Username, p.DisplayName, p.Groups, r.opts.Now().UTC()
	if err := r.opts.Store.UpdateExternalUser(ctx, u, sealed); errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, fmt.Errorf("%s was disabled or deleted meanwhile: %w", u.ID, ErrUserDisabled)
	} else if err != nil {
		return store.User{}, false, err
	}
	u, err := r.opts.Store.UserByID(ctx, u.ID)
	return u, changed, err
}

// RefreshResult is what a refresh did.
type RefreshResult struct {
	User store.User
	// Changed: groups differ from before.
	Changed bool
	// Disabled: the provider no longer vouches for the user, who is now
	// disabled.
	Disabled bool
}

// Refresh re-reads a user from its provider. See the package doc for what
// each answer does. The attempt is recorded first, whatever comes of it.
// Listeners are told of every change it makes.
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
	if err := r.opts.Store.RefreshAttempted(ctx, u.ID, r.opts.Now()); err != nil {
		return RefreshResult{User: u}, err
	}
	p, err := r.Provider(ctx, u.Provider)
	if err != nil {
		return RefreshResult{User: u}, err
	}
	// The provider gets what it needs: the stable id, the login it last
	// gave (LDAP keeps its spelling), the refresh credential.
	prev := providers.Principal{Provider: u.Provider, ID: u.ExternalID, Username: u.Login,
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
	if errors.Is(err, providers.ErrInvalidCredentials) && r.credentialMoved(ctx, u.ID, sealed) {
		// Another replica (or a login) refreshed the user meanwhile and the
		// provider rotated the credential we used: that refusal says
		// nothing about the user. Retry later with the new one.
		return RefreshResult{User: u}, fmt.Errorf("refresh of %q raced another refresh (its credential changed meanwhile); will retry", u.ID)
	}
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
	_, groups, err := r.check(next)
	if err != nil {
		return RefreshResult{User: u}, fmt.Errorf("refresh of %q: %w", u.ID, err)
	}
	next.Groups = groups
	nu, changed, err := r.update(ctx, u, next)
	if err != nil {
		return RefreshResult{User: u}, err
	}
	if changed {
		r.opts.Logger.Info("user's groups changed at refresh", "user", nu.Username, "user_id", nu.ID,
			"groups", len(nu.Groups))
		r.accessChanged()
	}
	return RefreshResult{User: nu, Changed: changed}, nil
}

// disable disables u, deleting every token of it (sessions, API and
// kubeconfig tokens), and makes it hold at once: those tokens leave the
// caches and their streams end.
// credentialMoved reports whether the user's stored refresh credential is
// no longer used, the one a refresh just sent. If it cannot tell, it says
// no: the refusal stands.
func (r *Registry) credentialMoved(ctx context.Context, userID string, used []byte) bool {
	cur, err := r.opts.Store.UserRefresh(ctx, userID)
	return err == nil && !bytes.Equal(cur, used)
}

func (r *Registry) disable(ctx context.Context, u store.User, why string) error {
	deleted, err := r.opts.Store.SetUserDisabled(ctx, u.ID, true)
	if err != nil {
		return err
	}
	r.invalidate(deleted)
	r.opts.Logger.Warn("user disabled", "user", u.Username, "user_id", u.ID, "reason", why, "tokens", len(deleted))
	r.accessChanged()
	return nil
}

// invalidate drops tokens from every cache and ends their streams.
func (r *Registry) invalidate(tokenIDs []string) {
	if r.opts.Tokens == nil {
		return
	}
	for _, id := range tokenIDs {
		r.opts.Tokens.Invalidate(id)
	}
}

func (r *Registry) accessChanged() {
	if r.opts.Access != nil {
		r.opts.Access.AccessChanged()
	}
}
