package registry

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
)

// ErrTooManyPending: the bound on finished redirect logins remembered is
// reached (see spentStates).
var ErrTooManyPending = errors.New("too many logins finishing")

// spentStates remembers the states of redirect logins that were finished
// (or tried with their claim), until their claim has expired, so that
// none is honoured twice: the one thing a stateless login must remember.
// Keys are digests of the states. Entries are kept in the order they were
// spent and each is kept one ttl from then (no claim outlives that), which
// is also the order they expire: expired ones are swept from the front, so
// neither a put nor a full table costs a scan.
type spentStates struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]*list.Element // of *spentEntry
	order *list.List                          // oldest first
	max   int
	ttl   time.Duration
}

type spentEntry struct {
	key     [sha256.Size]byte
	expires time.Time
}

// errSpent: the state was used already.
var errSpent = errors.New("state already used")

func newSpentStates(max int, ttl time.Duration) *spentStates {
	return &spentStates{m: map[[sha256.Size]byte]*list.Element{}, order: list.New(), max: max, ttl: ttl}
}

// sweep removes the expired entries at the front of the list; the caller
// holds mu.
func (p *spentStates) sweep(now time.Time) {
	for e := p.order.Front(); e != nil; e = p.order.Front() {
		se := e.Value.(*spentEntry)
		if now.Before(se.expires) {
			return
		}
		p.order.Remove(e)
		delete(p.m, se.key)
	}
}

// spend records the state of digest key as used: errSpent when it was
// already, ErrTooManyPending when the table is full (the state is then not
// honoured either: fail closed).
func (p *spentStates) spend(key [sha256.Size]byte, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweep(now)
	if _, ok := p.m[key]; ok {
		return errSpent
	}
	if len(p.m) >= p.max {
		return ErrTooManyPending
	}
	p.m[key] = p.order.PushBack(&spentEntry{key: key, expires: now.Add(p.ttl)})
	return nil
}

func (p *spentStates) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// claim is what a redirect login carries from Begin to Finish, sealed
// into the client's claim (so the server keeps nothing per login begun).
type claim struct {
	Provider string `json:"p"`
	// StateDigest is the SHA-256 of the state: the claim is good for that
	// login only.
	StateDigest []byte    `json:"s"`
	Verifier    string    `json:"v"`
	Expires     time.Time `json:"e"`
	// CLI is set for a login begun by the drover command (see CLILogin);
	// AuthURL is then kept too, for Start.
	CLI     *CLILogin `json:"c,omitempty"`
	AuthURL string    `json:"a,omitempty"`
}

// claimPurpose binds a sealed claim to its provider.
func claimPurpose(provider string) string { return "drover/login-claim/" + provider }

// maxClaim bounds a claim's length before anything is done with it (a
// CLI login's claim carries the identity provider's URL).
const maxClaim = 4096

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
	// login CSRF) is worth nothing on its own. It is the login itself,
	// sealed (provider, the state's digest, the PKCE verifier, the
	// expiry): the server keeps nothing per login begun.
	Claim string
}

// Begin starts a redirect login at the named provider. It keeps nothing in
// memory: what Finish needs is sealed into the claim.
//
// With cli set (checked by CheckCLILogin), the login was begun by the
// drover command: Finish says so, and the person's browser starts at
// Start, which gives it the claim.
func (r *Registry) Begin(ctx context.Context, name string, cli *CLILogin) (Begun, error) {
	if cli != nil {
		if err := CheckCLILogin(*cli); err != nil {
			return Begun{}, err
		}
	}
	rp, err := r.redirectProvider(ctx, name)
	if err != nil {
		return Begun{}, err
	}
	var b Begun
	if b.State, err = newState(); err != nil {
		return Begun{}, err
	}
	authURL, verifier, err := rp.Begin(ctx, b.State)
	if err != nil {
		return Begun{}, fmt.Errorf("begin login at %q: %w", name, err)
	}
	b.AuthURL = authURL
	digest := sha256.Sum256([]byte(b.State))
	c := claim{Provider: name, StateDigest: digest[:], Verifier: verifier,
		Expires: r.opts.Now().Add(r.opts.PendingTTL).UTC()}
	if cli != nil {
		c.CLI, c.AuthURL = cli, authURL
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return Begun{}, fmt.Errorf("begin login at %q: %w", name, err)
	}
	sealed, err := r.opts.Sealer.Seal(plain, claimPurpose(name))
	if err != nil {
		return Begun{}, fmt.Errorf("begin login at %q: seal the claim: %w", name, err)
	}
	b.Claim = base64.RawURLEncoding.EncodeToString(sealed)
	return b, nil
}

// Finish completes a redirect login from the callback's query and the
// claim of the client that began it (see Begun). The claim is checked
// first (sealed by this server for this provider, unexpired, for this very
// state): a callback without it spends nothing, so whoever holds a leaked
// callback URL can neither use it nor spoil the login. Then the state is
// spent before anything else: whatever happens next, it cannot be used
// again. Every refusal wraps providers.ErrInvalidCredentials (a full table
// of spent states also ErrTooManyPending).
//
// For a login begun by the drover command it also returns its CLILogin:
// the caller hands the login off (HandOff) instead of answering a session.
func (r *Registry) Finish(ctx context.Context, name string, callback url.Values, sealedClaim string) (providers.Principal, *CLILogin, error) {
	states := callback["state"]
	if len(states) != 1 || states[0] == "" {
		return providers.Principal{}, nil, providers.InvalidCredentials("callback for %q without exactly one state", name)
	}
	state := states[0]
	c, err := r.openClaim(name, sealedClaim)
	if err != nil {
		return providers.Principal{}, nil, providers.InvalidCredentials("callback for %q without the claim of the client that began the login: %v", name, err)
	}
	digest := sha256.Sum256([]byte(state))
	now := r.opts.Now()
	switch {
	case subtle.ConstantTimeCompare(digest[:], c.StateDigest) != 1:
		return providers.Principal{}, nil, providers.InvalidCredentials("callback for %q: the claim is of another login", name)
	case !now.Before(c.Expires):
		return providers.Principal{}, nil, providers.InvalidCredentials("callback for %q: state expired", name)
	}
	switch err := r.spent.spend(digest, now); {
	case errors.Is(err, errSpent):
		return providers.Principal{}, nil, providers.InvalidCredentials("callback for %q: used state", name)
	case err != nil:
		return providers.Principal{}, nil, fmt.Errorf("%w: callback for %q: %w", providers.ErrInvalidCredentials, name, err)
	}
	rp, err := r.redirectProvider(ctx, name)
	if err != nil {
		return providers.Principal{}, nil, err
	}
	p, err := rp.Finish(ctx, callback, state, c.Verifier)
	return p, c.CLI, err
}

// openClaim unseals a claim made by Begin for provider name.
func (r *Registry) openClaim(name, sealed string) (claim, error) {
	if sealed == "" {
		return claim{}, errors.New("no claim")
	}
	if len(sealed) > maxClaim {
		return claim{}, errors.New("claim too long")
	}
	blob, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return claim{}, errors.New("claim is not base64url")
	}
	plain, err := r.opts.Sealer.Open(blob, claimPurpose(name))
	if err != nil {
		return claim{}, errors.New("claim was not made here for this provider")
	}
	var c claim
	if err := json.Unmarshal(plain, &c); err != nil || c.Provider != name || len(c.StateDigest) != sha256.Size {
		return claim{}, errors.New("malformed claim")
	}
	return c, nil
}
