package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
)

// Users is what the provider reads and writes: *store.Store has these
// methods.
type Users interface {
	UserByUsername(ctx context.Context, username string) (store.User, []byte, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateUser(ctx context.Context, u store.User, passwordHash []byte) error
}

// Options configure a Provider.
type Options struct {
	// Cost is the bcrypt cost of new password hashes and of the dummy
	// hash an unknown username is compared with; default
	// bcrypt.DefaultCost. Tests may use bcrypt.MinCost.
	Cost int
	// Now stamps new users; default time.Now.
	Now func() time.Time
}

// Provider is the PasswordProvider for Drover's own users.
type Provider struct {
	users Users
	opts  Options
	// dummyHash is a hash at opts.Cost of a password nobody has, made
	// once per Provider.
	dummyHash []byte
}

var _ providers.PasswordProvider = (*Provider)(nil)

// New returns a Provider reading and writing users. It makes its dummy
// hash now, which takes as long as one password hash.
func New(users Users, opts Options) (*Provider, error) {
	if opts.Cost == 0 {
		opts.Cost = bcrypt.DefaultCost
	}
	if opts.Cost < bcrypt.MinCost || opts.Cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("local provider: bcrypt cost %d is not within %d..%d", opts.Cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("drover-timing-equaliser"), opts.Cost)
	if err != nil {
		return nil, fmt.Errorf("local provider: dummy hash: %w", err)
	}
	return &Provider{users: users, opts: opts, dummyHash: dummy}, nil
}

// Name implements providers.Provider: always providers.LocalName.
func (p *Provider) Name() string { return providers.LocalName }

// Authenticate returns the user whose username and password these are. A
// wrong password, an unknown username and a disabled user are all
// ErrInvalidCredentials (the error says which, for the log only); any
// other error is the store's.
func (p *Provider) Authenticate(ctx context.Context, username, password string) (store.User, error) {
	if err := providers.CheckUsername(username); err != nil {
		return store.User{}, err
	}
	if err := providers.CheckPassword(password); err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", username, err)
	}
	u, hash, err := p.users.UserByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = bcrypt.CompareHashAndPassword(p.dummyHash, []byte(password)) // same cost as a real user
		return store.User{}, providers.InvalidCredentials("local: no user %q", username)
	case err != nil:
		return store.User{}, fmt.Errorf("local: look up %q: %w", username, err)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return store.User{}, providers.InvalidCredentials("local: wrong password for %q", username)
	}
	if u.Disabled {
		return store.User{}, providers.InvalidCredentials("local: user %q is disabled", username)
	}
	return u, nil
}

// Login implements providers.PasswordProvider: Authenticate, as a
// Principal.
func (p *Provider) Login(ctx context.Context, username, password string) (providers.Principal, error) {
	u, err := p.Authenticate(ctx, username, password)
	if err != nil {
		return providers.Principal{}, err
	}
	return principal(u), nil
}

// Refresh implements providers.Provider.
func (p *Provider) Refresh(ctx context.Context, prev providers.Principal) (providers.Principal, error) {
	if prev.Provider != providers.LocalName || prev.ID == "" {
		return providers.Principal{}, fmt.Errorf("local: cannot refresh a principal of provider %q", prev.Provider)
	}
	u, err := p.users.UserByID(ctx, prev.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return providers.Principal{}, providers.InvalidCredentials("local: user %q is gone", prev.ID)
	case err != nil:
		return providers.Principal{}, fmt.Errorf("local: read user %q: %w", prev.ID, err)
	}
	return principal(u), nil
}

func principal(u store.User) providers.Principal {
	return providers.Principal{Provider: providers.LocalName, ID: u.ID, Username: u.Username, DisplayName: u.Username}
}

// LoginKey implements providers.PasswordProvider: see the package function.
func (p *Provider) LoginKey(username string) string { return LoginKey(username) }

// LoginKey is the form of a local login name the login limits count: the
// name case-folded. Local names are lower case and matched exactly, so no
// other spelling logs in; folding only merges spellings that cannot.
func LoginKey(username string) string { return strings.ToLower(username) }
