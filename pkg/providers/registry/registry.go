package registry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
)

// LocalName is the name of Drover's own password provider; no configured
// provider may take it (nor "drover" nor "system": see
// providers.CheckName).
const LocalName = store.LocalProvider

// Store is what the registry reads and writes; *store.Store has these
// methods.
type Store interface {
	SaveAuthProvider(ctx context.Context, p store.AuthProvider) error
	AuthProvider(ctx context.Context, name string) (store.AuthProvider, error)
	ListAuthProviders(ctx context.Context) ([]store.AuthProvider, error)
	RemoveAuthProvider(ctx context.Context, name string) (store.ProviderRemoval, error)

	UserByID(ctx context.Context, id string) (store.User, error)
	UserByExternalID(ctx context.Context, provider, externalID string) (store.User, error)
	CreateExternalUser(ctx context.Context, u store.User, refresh []byte) error
	UpdateExternalUser(ctx context.Context, u store.User, refresh []byte) error
	UserRefresh(ctx context.Context, id string) ([]byte, error)
	UsersToRefresh(ctx context.Context, provider string, cutoff time.Time, limit int) ([]store.User, error)
	RefreshAttempted(ctx context.Context, id string, at time.Time) error
	DropStaleGroups(ctx context.Context, cutoff time.Time) ([]string, error)
	SetUserDisabled(ctx context.Context, id string, disabled bool) ([]string, error)
	ListTokens(ctx context.Context, userID string) ([]store.Token, error)
}

// Sealer encrypts what is stored, bound to a purpose;
// *seal.Sealer is one.
type Sealer interface {
	Seal(plain []byte, purpose string) ([]byte, error)
	Open(blob []byte, purpose string) ([]byte, error)
}

// Invalidator drops a token from every cache and ends its open streams.
type Invalidator interface {
	Invalidate(tokenID string)
}

// AccessListener is told that users' groups or states changed.
type AccessListener interface {
	AccessChanged()
}

// Options configure a Registry.
type Options struct {
	Store  Store
	Sealer Sealer
	Logger *slog.Logger
	Now    func() time.Time
	// Types are the provider types; default DefaultTypes().
	Types map[string]Type
	// Tokens and Access hear of users disabled or changed by a refresh or
	// by the removal of their provider; nil: nobody listens.
	Tokens Invalidator
	Access AccessListener
	// MaxStale bounds how long groups that could not be refreshed (the
	// provider did not answer, or gave nothing to refresh with) stay in
	// use; 0: forever.
	MaxStale time.Duration
	// MaxSpent bounds the states of finished redirect logins remembered
	// (until their claims expire) to keep each single-use; default
	// 100000. Logins in progress take no memory.
	MaxSpent int
	// PendingTTL is how long a redirect login may take; default 10m.
	PendingTTL time.Duration
	// Spent, when set, remembers spent states and codes where every server
	// replica sees them (the database), instead of this process's memory:
	// a state spent through one replica is refused by all.
	Spent Spent
}

// Spent records secrets spent once (store.Store): fresh is false when the
// digest was spent already, by any server.
type Spent interface {
	SpendSecret(ctx context.Context, digest []byte, expires, now time.Time) (fresh bool, err error)
}

// Registry builds and caches providers from stored configurations, records
// what they say about users, and runs redirect logins.
type Registry struct {
	opts Options

	mu    sync.Mutex
	cache map[string]cached

	spent spender
	locks *keyedMutex
}

type cached struct {
	digest   [sha256.Size]byte // of the sealed blob it was built from
	typ      string
	provider providers.Provider
}

// Errors callers map to answers.
var (
	// ErrNotFound: no provider of that name is configured.
	ErrNotFound = errors.New("auth provider not configured")
	// ErrWrongFlow: the provider does not log in that way (a password
	// login at a redirect provider or the reverse).
	ErrWrongFlow = errors.New("auth provider does not support this login flow")
)

// New returns a Registry.
func New(opts Options) *Registry {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Types == nil {
		opts.Types = DefaultTypes()
	}
	if opts.MaxSpent <= 0 {
		opts.MaxSpent = 100000
	}
	if opts.PendingTTL <= 0 {
		opts.PendingTTL = 10 * time.Minute
	}
	// A spent state or code is remembered as long as anything spent
	// lives: a claim (PendingTTL) or a login code (handOffTTL), so none is
	// forgotten while it could still be honoured.
	keep := max(opts.PendingTTL, handOffTTL)
	var spent spender = newSpentStates(opts.MaxSpent, keep)
	if opts.Spent != nil {
		spent = sharedSpent{opts.Spent, keep}
	}
	return &Registry{
		opts:  opts,
		cache: map[string]cached{},
		spent: spent,
		locks: newKeyedMutex(),
	}
}

// spender spends a state or code: errSpent when it was spent already.
type spender interface {
	spend(key [sha256.Size]byte, now time.Time) error
}

// sharedSpent spends in the store every replica shares.
type sharedSpent struct {
	s    Spent
	keep time.Duration
}

func (p sharedSpent) spend(key [sha256.Size]byte, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fresh, err := p.s.SpendSecret(ctx, key[:], now.Add(p.keep), now)
	switch {
	case err != nil:
		return fmt.Errorf("spend: %w", err) // not honoured: fail closed
	case !fresh:
		return errSpent
	}
	return nil
}

func configPurpose(name string) string { return "drover/auth-provider/" + name + "/config" }

// CheckName validates the name of a configured provider.
func CheckName(name string) error {
	if err := providers.CheckName(name); err != nil {
		return &ConfigError{Err: err}
	}
	return nil
}

// SaveOptions are the less common parts of a Save.
type SaveOptions struct {
	// ClearSecrets names secret fields to remove from the stored
	// configuration (a secret left out is otherwise kept).
	ClearSecrets []string
}

// Save validates a configuration by building its provider, seals it and
// stores it under name, replacing any configuration of that name. Secret
// fields left out keep their stored values unless the type or an endpoint
// field changed (then the request is refused: send them again or clear
// them). Problems with the request are *ConfigError.
func (r *Registry) Save(ctx context.Context, name, typ string, config []byte, opts SaveOptions) (Info, error) {
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	t, ok := r.opts.Types[typ]
	if !ok {
		return Info{}, configErrorf("type %q must be one of %v", typ, typeNames(r.opts.Types))
	}
	now := r.opts.Now().UTC()
	created := now
	var prev []byte
	sameType := false
	old, err := r.opts.Store.AuthProvider(ctx, name)
	switch {
	case err == nil:
		created, sameType = old.CreatedAt, old.Type == typ
		if prev, err = r.opts.Sealer.Open(old.Config, configPurpose(name)); err != nil {
			return Info{}, fmt.Errorf("unseal stored config of %q: %w", name, err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return Info{}, err
	}
	prepared, err := prepare(t, config, prev, sameType, opts.ClearSecrets)
	if err != nil {
		return Info{}, err
	}
	p, canonical, err := t.Build(name, prepared, r.opts.Logger)
	if err != nil {
		return Info{}, err
	}
	sealed, err := r.opts.Sealer.Seal(canonical, configPurpose(name))
	if err != nil {
		return Info{}, fmt.Errorf("seal config of %q: %w", name, err)
	}
	if err := r.opts.Store.SaveAuthProvider(ctx, store.AuthProvider{Name: name, Type: typ, Config: sealed,
		CreatedAt: created, UpdatedAt: now}); err != nil {
		return Info{}, err
	}
	r.mu.Lock()
	r.cache[name] = cached{digest: sha256.Sum256(sealed), typ: typ, provider: p}
	r.mu.Unlock()
	return view(t, name, typ, canonical, created, now)
}

// Info returns the view of one configured provider.
func (r *Registry) Info(ctx context.Context, name string) (Info, error) {
	row, err := r.opts.Store.AuthProvider(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Info{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return Info{}, err
	}
	return r.info(row)
}

func (r *Registry) info(row store.AuthProvider) (Info, error) {
	t, ok := r.opts.Types[row.Type]
	if !ok {
		return Info{}, fmt.Errorf("auth provider %q has unknown type %q", row.Name, row.Type)
	}
	plain, err := r.opts.Sealer.Open(row.Config, configPurpose(row.Name))
	if err != nil {
		return Info{}, fmt.Errorf("unseal config of %q: %w", row.Name, err)
	}
	return view(t, row.Name, row.Type, plain, row.CreatedAt, row.UpdatedAt)
}

// List returns the views of every configured provider, by name.
func (r *Registry) List(ctx context.Context) ([]Info, error) {
	rows, err := r.opts.Store.ListAuthProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(rows))
	for _, row := range rows {
		i, err := r.info(row)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

// Summary is a provider as a login page sees it.
type Summary struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Summaries lists the configured providers' names and types, without
// unsealing anything.
func (r *Registry) Summaries(ctx context.Context) ([]Summary, error) {
	rows, err := r.opts.Store.ListAuthProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(rows))
	for _, row := range rows {
		out = append(out, Summary{Name: row.Name, Type: row.Type})
	}
	return out, nil
}

// Delete removes a provider's configuration and, in the same store
// transaction, disables its users and deletes every token they hold: an
// identity provider that is gone can no longer vouch for them, and their
// API and kubeconfig tokens must not outlive it. The deleted tokens leave
// every cache and their streams end. It returns how many users it
// disabled; an admin may enable them again (they log in afresh).
func (r *Registry) Delete(ctx context.Context, name string) (int, error) {
	removed, err := r.opts.Store.RemoveAuthProvider(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return 0, err
	}
	r.mu.Lock()
	delete(r.cache, name)
	r.mu.Unlock()
	r.invalidate(removed.Tokens)
	r.opts.Logger.Warn("auth provider deleted; its users are disabled", "provider", name,
		"users", len(removed.DisabledUsers), "tokens", len(removed.Tokens))
	r.accessChanged()
	return len(removed.DisabledUsers), nil
}

// Provider returns the provider configured as name, built from its stored
// configuration (rebuilt only when that changed).
func (r *Registry) Provider(ctx context.Context, name string) (providers.Provider, error) {
	row, err := r.opts.Store.AuthProvider(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(row.Config)
	r.mu.Lock()
	c, ok := r.cache[name]
	r.mu.Unlock()
	if ok && c.digest == digest && c.typ == row.Type {
		return c.provider, nil
	}
	t, ok := r.opts.Types[row.Type]
	if !ok {
		return nil, fmt.Errorf("auth provider %q has unknown type %q", name, row.Type)
	}
	plain, err := r.opts.Sealer.Open(row.Config, configPurpose(name))
	if err != nil {
		return nil, fmt.Errorf("unseal config of %q: %w", name, err)
	}
	p, _, err := t.Build(name, plain, r.opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("build auth provider %q from its stored config: %w", name, err)
	}
	r.mu.Lock()
	r.cache[name] = cached{digest: digest, typ: row.Type, provider: p}
	r.mu.Unlock()
	return p, nil
}

// keyedMutex serialises work per key; entries live only while in use.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu sync.Mutex
	n  int
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{m: map[string]*keyedEntry{}} }

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	e, ok := k.m[key]
	if !ok {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.n++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.n--; e.n == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
