package registry

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/test/fake"
)

// directory is what the fake providers know: users by name.
type directory struct {
	mu    sync.Mutex
	users map[string]*person
	// refreshErr, when set, is what every Refresh answers.
	refreshErr error
	refreshes  int
}

type person struct {
	id, password string
	groups       []string
	gone         bool
}

func newDirectory() *directory {
	return &directory{users: map[string]*person{
		"alice": {id: "id-alice", password: "alice-pw", groups: []string{"devs", "ops"}},
		"bob":   {id: "id-bob", password: "bob-pw"},
	}}
}

func (d *directory) principal(provider, name string, p *person) (providers.Principal, error) {
	groups, _, err := providers.Groups(provider, p.groups)
	return providers.Principal{Provider: provider, ID: p.id, Username: name, DisplayName: "The " + name, Groups: groups}, err
}

func (d *directory) set(f func(d *directory)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

// fakeConfig is the fake types' configuration.
type fakeConfig struct {
	Name   string `json:"name,omitempty"`
	Secret string `json:"secret,omitempty"`
	Realm  string `json:"realm"`
	// Timeout exercises the duration conversion.
	Timeout time.Duration `json:"timeout,omitempty"`
}

func (c fakeConfig) Validate() error {
	if c.Realm == "" {
		return errors.New("realm is required")
	}
	return nil
}

// fakeBase names and refreshes.
type fakeBase struct {
	name string
	dir  *directory
}

func (p *fakeBase) Name() string { return p.name }

// passwordFake is a PasswordProvider over a directory.
type passwordFake struct{ fakeBase }

func (p *passwordFake) LoginKey(username string) string {
	return strings.ToLower(strings.TrimSpace(username))
}

func (p *passwordFake) Login(_ context.Context, username, password string) (providers.Principal, error) {
	if err := providers.CheckUsername(username); err != nil {
		return providers.Principal{}, err
	}
	p.dir.mu.Lock()
	defer p.dir.mu.Unlock()
	u, ok := p.dir.users[username]
	if !ok || u.gone || u.password != password {
		return providers.Principal{}, providers.InvalidCredentials("fake: no such user or wrong password")
	}
	return p.dir.principal(p.name, username, u)
}

func (p *fakeBase) Refresh(_ context.Context, prev providers.Principal) (providers.Principal, error) {
	p.dir.mu.Lock()
	defer p.dir.mu.Unlock()
	p.dir.refreshes++
	if p.dir.refreshErr != nil {
		return providers.Principal{}, p.dir.refreshErr
	}
	for name, u := range p.dir.users {
		if u.id == prev.ID && !u.gone {
			pr, err := p.dir.principal(p.name, name, u)
			pr.RefreshToken = prev.RefreshToken
			return pr, err
		}
	}
	return providers.Principal{}, providers.InvalidCredentials("fake: user %q is gone", prev.ID)
}

// redirectFake is a RedirectProvider over a directory: the "code" is the
// username, and the verifier must be the one Begin gave.
type redirectFake struct{ fakeBase }

func (p *redirectFake) Begin(_ context.Context, state string) (string, string, error) {
	return "https://idp.test/auth?state=" + url.QueryEscape(state), "verifier-" + state, nil
}

func (p *redirectFake) Finish(_ context.Context, cb url.Values, state, verifier string) (providers.Principal, error) {
	code, err := providers.ParseCallback(cb, state)
	if err != nil {
		return providers.Principal{}, err
	}
	if verifier != "verifier-"+state {
		return providers.Principal{}, providers.InvalidCredentials("fake: wrong verifier")
	}
	p.dir.mu.Lock()
	defer p.dir.mu.Unlock()
	u, ok := p.dir.users[code]
	if !ok || u.gone {
		return providers.Principal{}, providers.InvalidCredentials("fake: unknown code")
	}
	pr, err := p.dir.principal(p.name, code, u)
	pr.RefreshToken = providers.Secret("refresh-" + code)
	return pr, err
}

// FakeTypes returns the types "fake-password" and "fake-redirect" over dir,
// with DefaultTypes.
func fakeTypes(dir *directory) map[string]Type {
	types := DefaultTypes()
	types["fake-password"] = Type{Secrets: []string{"secret"}, Durations: []string{"timeout"},
		Build: Builder(func(c *fakeConfig) *string { return &c.Name }, func(c fakeConfig, _ *slog.Logger) (*passwordFake, error) {
			return &passwordFake{fakeBase{name: c.Name, dir: dir}}, nil
		})}
	types["fake-redirect"] = Type{Secrets: []string{"secret"},
		Build: Builder(func(c *fakeConfig) *string { return &c.Name }, func(c fakeConfig, _ *slog.Logger) (*redirectFake, error) {
			return &redirectFake{fakeBase{name: c.Name, dir: dir}}, nil
		})}
	return types
}

// recorder counts what listeners hear.
type recorder struct {
	mu          sync.Mutex
	invalidated []string
	changes     int
}

func (r *recorder) Invalidate(id string) {
	r.mu.Lock()
	r.invalidated = append(r.invalidated, id)
	r.mu.Unlock()
}

func (r *recorder) AccessChanged() {
	r.mu.Lock()
	r.changes++
	r.mu.Unlock()
}

type bed struct {
	reg   *Registry
	st    *store.Store
	dir   *directory
	heard *recorder
	clock *fake.Clock
}

func newBed(t testing.TB) *bed {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	b := &bed{st: st, dir: newDirectory(), heard: &recorder{}, clock: fake.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}
	b.reg = New(Options{Store: st, Sealer: sealer, Now: b.clock.Now, Types: fakeTypes(b.dir), Tokens: b.heard,
		Access: b.heard, MaxStale: 24 * time.Hour, MaxSpent: 4})
	return b
}

func (b *bed) save(t testing.TB, name, typ string, config any) {
	t.Helper()
	raw, _ := json.Marshal(config)
	if _, err := b.reg.Save(context.Background(), name, typ, raw, SaveOptions{}); err != nil {
		t.Fatalf("save %s: %v", name, err)
	}
}
