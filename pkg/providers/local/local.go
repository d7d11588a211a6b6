package local

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
)

// Users is what the provider reads: *store.Store has these methods.
type Users interface {
	UserByUsername(ctx context.Context, username string) (store.User, []byte, error)
	UserByID(ctx context.Context, id string) (store.User, error)
}

// Options configure a Provider.
type Options struct {
	// Name identifies the provider; default "local".
	Name string
	// Compare checks password against a stored hash, returning nil on a
	// match; default bcrypt.CompareHashAndPassword.
	Compare func(hash []byte, password string) error
	// DummyHash is what an unknown user's password is compared with, in
	// the same scheme and at the same cost as real hashes; default a
	// bcrypt hash at bcrypt.DefaultCost.
	DummyHash []byte
}

// Provider is the PasswordProvider for Drover's own users.
type Provider struct {
	users Users
	opts  Options
}

var _ providers.PasswordProvider = (*Provider)(nil)

// New returns a Provider reading users.
func New(users Users, opts Options) (*Provider, error) {
	if opts.Name == "" {
		opts.Name = "local"
	}
	if err := providers.CheckName(opts.Name); err != nil && opts.Name != providers.LocalName {
		return nil, err
	}
	if opts.Compare == nil {
		opts.Compare = func(hash []byte, password string) error {
			return bcrypt.CompareHashAndPassword(hash, []byte(password))
		}
	}
	if opts.DummyHash == nil {
		h, err := bcrypt.GenerateFromPassword([]byte("drover-timing-equaliser"), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("local provider: dummy hash: %w", err)
		}
		opts.DummyHash = h
	}
	return &Provider{users: users, opts: opts}, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return p.opts.Name }

// Login implements providers.PasswordProvider.
func (p *Provider) Login(ctx context.Context, username, password string) (providers.Principal, error) {
	if err := providers.CheckUsername(username); err != nil {
		return providers.Principal{}, err
	}
	if err := providers.CheckPassword(password); err != nil {
		return providers.Principal{}, fmt.Errorf("user %q: %w", username, err)
	}
	u, hash, err := p.users.UserByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = p.opts.Compare(p.opts.DummyHash, password) // same cost as a real user
		return providers.Principal{}, providers.InvalidCredentials("local: no user %q", username)
	case err != nil:
		return providers.Principal{}, fmt.Errorf("local: look up %q: %w", username, err)
	}
	if p.opts.Compare(hash, password) != nil {
		return providers.Principal{}, providers.InvalidCredentials("local: wrong password for %q", username)
	}
	return p.principal(u), nil
}

// Refresh implements providers.Provider.
func (p *Provider) Refresh(ctx context.Context, prev providers.Principal) (providers.Principal, error) {
	if prev.Provider != p.opts.Name || prev.ID == "" {
		return providers.Principal{}, fmt.Errorf("local: cannot refresh a principal of provider %q", prev.Provider)
	}
	u, err := p.users.UserByID(ctx, prev.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return providers.Principal{}, providers.InvalidCredentials("local: user %q is gone", prev.ID)
	case err != nil:
		return providers.Principal{}, fmt.Errorf("local: read user %q: %w", prev.ID, err)
	}
	return p.principal(u), nil
}

func (p *Provider) principal(u store.User) providers.Principal {
	return providers.Principal{Provider: p.opts.Name, ID: u.ID, Username: u.Username, DisplayName: u.Username}
}
