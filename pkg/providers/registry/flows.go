package registry

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
)

// ErrTooManyPending: the bound on redirect logins in progress is reached.
var ErrTooManyPending = errors.New("too many logins in progress")

// pendingLogins maps a state's digest to the login it started. Keys are
// digests so that lookups do not compare the state itself (timing) and the
// states are not kept in memory. Logins are also kept in a list in the
// order they began, which is the order they expire (every login has the
// same ttl): expired ones are swept from its front, so neither a put nor a
// full table costs a scan of the whole table.
type pendingLogins struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]*list.Element // of *pendingEntry
	order *list.List                          // oldest first
	max   int
	ttl   time.Duration
}

type pendingLogin struct {
	provider string
	verifier string
	// claim is the digest of the secret the client that began the login
	// must present at the callback.
	claim   [sha256.Size]byte
	expires time.Time
}

type pendingEntry struct {
	key [sha256.Size]byte
	pendingLogin
}

func newPendingLogins(max int, ttl time.Duration) *pendingLogins {
	return &pendingLogins{m: map[[sha256.Size]byte]*list.Element{}, order: list.New(), max: max, ttl: ttl}
}

// sweep removes the expired logins at the front of the list; the caller
// holds mu.
func (p *pendingLogins) sweep(now time.Time) {
	for e := p.order.Front(); e != nil; e = p.order.Front() {
		pe := e.Value.(*pendingEntry)
		if now.Before(pe.expires) {
			return
		}
		p.order.Remove(e)
		delete(p.m, pe.key)
	}
}

func (p *pendingLogins) put(state string, l pendingLogin, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep(now)
	if len(p.m) >= p.max {
		return ErrTooManyPending
	}
	key := sha256.Sum256([]byte(state))
	if e, ok := p.m[key]; ok { // a 256-bit random state does not repeat; but never leave a stray element
		p.order.Remove(e)
	}
	p.m[key] = p.order.PushBack(&pendingEntry{key: key, pendingLogin: l})
	return nil
}

// take removes and returns the login state started; ok is false when there
// is none (unknown, used, or swept after expiry).
func (p *pendingLogins) take(state string) (pendingLogin, bool) {
	key := sha256.Sum256([]byte(state))
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[key]
	if !ok {
		return pendingLogin{}, false
	}
	delete(p.m, key)
	p.order.Remove(e)
	return e.Value.(*pendingEntry).pendingLogin, true
}

func (p *pendingLogins) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// newState returns 256 random bits, base64url.
func newState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// redirectProvider returns the named provider as a RedirectProvider.
func (r *Registry) redirectProvider(ctx context.Context, name string) (providers.RedirectProvider, error) {
	p, err := r.Provider(ctx, name)
	if err != nil {
		return nil, err
	}
	rp, ok := p.(providers.RedirectProvider)
	if !ok {
		return nil, fmt.Errorf("%w: %q takes a username and password", ErrWrongFlow, name)
	}
	return rp, nil
}

// PasswordProvider returns the named provider as a PasswordProvider.
func (r *Registry) PasswordProvider(ctx context.Context, name string) (providers.PasswordProvider, error) {
	p, err := r.Provider(ctx, name)
	if err != nil {
		return nil, err
	}
	pp, ok := p.(providers.PasswordProvider)
	if !ok {
		return nil, fmt.Errorf("%w: %q logs in through a browser redirect", ErrWrongFlow, name)
	}
	return pp, nil
}

// Begun is a redirect login in progress.
type Begun struct {
	// AuthURL is where to send the browser.
	AuthURL string
	// State is what the identity provider sends back to the callback.
	State string
	// Claim is a secret for the client that began the login only (an
	// HttpOnly cookie for a browser, a header for an API client): the
	// callback completes the login only when it is presented, so a
	// callback URL that leaks (proxy logs, a link sent to a victim for
	// login CSRF) is worth nothing on its own.
	Claim string
}

// Begin starts a redirect login at the named provider.
func (r *Registry) Begin(ctx context.Context, name string) (Begun, error) {
	rp, err := r.redirectProvider(ctx, name)
	if err != nil {
		return Begun{}, err
	}
	var b Begun
	if b.State, err = newState(); err != nil {
		return Begun{}, err
	}
	if b.Claim, err = newState(); err != nil {
		return Begun{}, err
	}
	authURL, verifier, err := rp.Begin(ctx, b.State)
	if err != nil {
		return Begun{}, fmt.Errorf("begin login at %q: %w", name, err)
	}
	b.AuthURL = authURL
	now := r.opts.Now()
	l := pendingLogin{provider: name, verifier: verifier, claim: sha256.Sum256([]byte(b.Claim)), expires: now.Add(r.opts.PendingTTL)}
	if err := r.pending.put(b.State, l, now); err != nil {
		return Begun{}, err
	}
	return b, nil
}

// Finish completes a redirect login from the callback's query and the
// claim of the client that began it (see Begun). The state is spent before
// anything else: whatever happens next, it cannot be used again. Every
// refusal wraps providers.ErrInvalidCredentials.
func (r *Registry) Finish(ctx context.Context, name string, callback url.Values, claim string) (providers.Principal, error) {
	states := callback["state"]
	if len(states) != 1 || states[0] == "" {
		return providers.Principal{}, providers.InvalidCredentials("callback for %q without exactly one state", name)
	}
	state := states[0]
	l, ok := r.pending.take(state)
	switch {
	case !ok:
		return providers.Principal{}, providers.InvalidCredentials("callback for %q: unknown, used or expired state", name)
	case !r.opts.Now().Before(l.expires):
		return providers.Principal{}, providers.InvalidCredentials("callback for %q: state expired", name)
	case l.provider != name:
		return providers.Principal{}, providers.InvalidCredentials("callback for %q carries a state begun at %q", name, l.provider)
	}
	if got := sha256.Sum256([]byte(claim)); claim == "" || subtle.ConstantTimeCompare(got[:], l.claim[:]) != 1 {
		return providers.Principal{}, providers.InvalidCredentials("callback for %q without the claim of the client that began the login", name)
	}
	rp, err := r.redirectProvider(ctx, name)
	if err != nil {
		return providers.Principal{}, err
	}
	return rp.Finish(ctx, callback, state, l.verifier)
}
