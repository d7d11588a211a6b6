package session

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/drover-dev/drover/pkg/ids"
)

// Options configure the key set.
type Options struct {
	// Dir holds keys.json.
	Dir string
	// TTL is the lifetime of a session token.
	TTL time.Duration
	// RotateEvery makes a new signing key once the newest is this old.
	RotateEvery time.Duration
	Now         func() time.Time
	// Shared, when set, keeps the key set where every server replica
	// reads it (the database, sealed: package replica) instead of the file
	// in Dir; a key set still in the file moves there.
	Shared Shared
}

// Shared stores the key set for several servers. Load returns nil when
// none is stored; Swap stores next if the stored set is still prev (nil:
// none) and reports whether it was.
type Shared interface {
	Load() ([]byte, error)
	Swap(prev, next []byte) (bool, error)
}

// sharedSlack keeps a retired key verifying this much past the lifetime of
// its last token when replicas share the keys: a replica signs with the
// newest key it knows, and learns of a newer one within a Maintain period.
const sharedSlack = 10 * time.Minute

// reloadEvery bounds how often an unknown kid makes a replica read the
// shared key set again.
const reloadEvery = time.Second

// Keys signs and verifies session tokens.
type Keys struct {
	opts Options
	mu   sync.RWMutex
	keys []key // oldest first; the last one signs
	// loadedAt is when the shared set was last read (or a read begun).
	loadedAt time.Time
	// shared is held while the shared set is read or written, never with
	// mu: signing and verifying with known keys never wait for the store.
	shared sync.Mutex
}

type key struct {
	ID      string    `json:"kid"`
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
}

// Open loads the keys in opts.Dir, creating or rotating as due.
func Open(opts Options) (*Keys, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TTL <= 0 || opts.RotateEvery <= 0 {
		return nil, errors.New("session TTL and rotation period must be positive")
	}
	k := &Keys{opts: opts}
	b, err := os.ReadFile(k.path())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read session keys: %w", err)
	default:
		if k.keys, err = parseKeys(b); err != nil {
			return nil, fmt.Errorf("session keys file %s is corrupt: %w", k.path(), err)
		}
	}
	if opts.Shared != nil {
		if err := k.share(); err != nil {
			return nil, err
		}
	}
	if err := k.Maintain(); err != nil {
		return nil, err
	}
	return k, nil
}

func parseKeys(b []byte) ([]key, error) {
	var keys []key
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, err
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	return keys, nil
}

// share moves the keys of the file (k.keys) to the shared store when it
// holds none: sessions signed before the server moved go on verifying.
func (k *Keys) share() error {
	b, err := k.opts.Shared.Load()
	if err != nil {
		return fmt.Errorf("read shared session keys: %w", err)
	}
	if b != nil || len(k.keys) == 0 {
		return nil
	}
	next, err := json.Marshal(k.keys)
	if err != nil {
		return err
	}
	if _, err := k.opts.Shared.Swap(nil, next); err != nil {
		return fmt.Errorf("store shared session keys: %w", err)
	}
	return nil
}

func (k *Keys) path() string { return filepath.Join(k.opts.Dir, "session-keys.json") }

// Maintain makes a new key when the newest is due for rotation and drops
// keys that can no longer have live tokens. Call it periodically.
func (k *Keys) Maintain() error {
	if k.opts.Shared != nil {
		return k.maintainShared()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, changed, err := k.maintained(k.keys, k.opts.TTL)
	if err != nil || !changed {
		return err
	}
	k.keys = keys
	return k.saveLocked()
}

// maintained returns keys rotated and retired as due, and whether that
// changed them; keys itself is not modified.
func (k *Keys) maintained(keys []key, retireAfter time.Duration) ([]key, bool, error) {
	now := k.opts.Now()
	changed := false
	keys = slices.Clone(keys)
	if len(keys) == 0 || now.Sub(keys[len(keys)-1].Created) >= k.opts.RotateEvery {
		nk, err := newKey(now)
		if err != nil {
			return nil, false, err
		}
		keys = append(keys, nk)
		changed = true
	}
	// A key stopped signing when its successor was made; its last token
	// expires TTL later.
	kept := make([]key, 0, len(keys))
	for i, key := range keys {
		if i < len(keys)-1 && now.Sub(keys[i+1].Created) > retireAfter {
			changed = true
			continue
		}
		kept = append(kept, key)
	}
	return kept, changed, nil
}

// maintainShared reads the shared set, rotates and retires in it, and
// stores it back unless another replica changed it meanwhile (then it
// starts over from that replica's set). The keys in use change only once
// that is done.
func (k *Keys) maintainShared() error {
	k.shared.Lock()
	defer k.shared.Unlock()
	for range 5 {
		prev, err := k.opts.Shared.Load()
		if err != nil {
			return fmt.Errorf("read shared session keys: %w", err)
		}
		var keys []key
		if prev != nil {
			if keys, err = parseKeys(prev); err != nil {
				return fmt.Errorf("shared session keys are corrupt: %w", err)
			}
		}
		at := k.opts.Now()
		keys, changed, err := k.maintained(keys, k.opts.TTL+sharedSlack)
		if err != nil {
			return err
		}
		if changed {
			next, err := json.Marshal(keys)
			if err != nil {
				return err
			}
			ok, err := k.opts.Shared.Swap(prev, next)
			if err != nil {
				return fmt.Errorf("store shared session keys: %w", err)
			}
			if !ok {
				continue
			}
		}
		k.mu.Lock()
		k.keys, k.loadedAt = keys, at
		k.mu.Unlock()
		return nil
	}
	return errors.New("store shared session keys: other replicas kept changing them")
}

// reload reads the shared set again for a kid this replica does not know
// (another replica rotated), at most once per reloadEvery. Only the
// caller waits for the store.
func (k *Keys) reload() {
	if k.opts.Shared == nil {
		return
	}
	k.mu.Lock()
	due := k.opts.Now().Sub(k.loadedAt) >= reloadEvery
	if due {
		k.loadedAt = k.opts.Now()
	}
	k.mu.Unlock()
	if !due {
		return
	}
	k.shared.Lock()
	defer k.shared.Unlock()
	b, err := k.opts.Shared.Load()
	if err != nil || b == nil {
		return
	}
	if keys, err := parseKeys(b); err == nil && len(keys) > 0 {
		k.mu.Lock()
		k.keys = keys
		k.mu.Unlock()
	}
}

// Rotate makes a new signing key now.
func (k *Keys) Rotate() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.opts.Shared != nil {
		return errors.New("session keys shared by replicas rotate with Maintain")
	}
	nk, err := newKey(k.opts.Now())
	if err != nil {
		return err
	}
	k.keys = append(k.keys, nk)
	return k.saveLocked()
}

func newKey(now time.Time) (key, error) {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand)
	id, err := ids.SigningKey.New()
	if err != nil {
		return key{}, err
	}
	return key{ID: id, Secret: secret, Created: now.UTC()}, nil
}

func (k *Keys) saveLocked() error {
	b, err := json.Marshal(k.keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(k.opts.Dir, 0o700); err != nil {
		return err
	}
	tmp := k.path() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write session keys: %w", err)
	}
	return os.Rename(tmp, k.path())
}

// Claims are a session token's claims.
type Claims struct {
	jwt.RegisteredClaims
}

// Sign issues a token for a session of a user; it expires after TTL.
func (k *Keys) Sign(userID, sessionID string) (string, time.Time, error) {
	k.mu.RLock()
	signer := k.keys[len(k.keys)-1]
	k.mu.RUnlock()
	now := k.opts.Now()
	exp := now.Add(k.opts.TTL)
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{jwt.RegisteredClaims{
		Issuer: Issuer, Subject: userID, ID: sessionID,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(exp),
	}})
	t.Header["kid"] = signer.ID
	s, err := t.SignedString(signer.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign session: %w", err)
	}
	return s, exp, nil
}

func (k *Keys) secret(kid string) ([]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.ID == kid {
			return key.Secret, true
		}
	}
	return nil, false
}

// Issuer is the iss claim of a session token: what it is, not where the
// server is, so that a new --server-url ends no session. Tokens of servers
// before it name the server's URL (an https URL), which Verify accepts too:
// only this server's keys sign either.
const Issuer = "drover/session"

// Verify checks a token's signature, algorithm, issuer and lifetime and
// returns its session and user ids.
func (k *Keys) Verify(raw string) (sessionID, userID string, err error) {
	var c Claims
	_, err = jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if secret, ok := k.secret(kid); ok {
			return secret, nil
		}
		if ids.SigningKey.Valid(kid) {
			k.reload()
			if secret, ok := k.secret(kid); ok {
				return secret, nil
			}
		}
		return nil, errors.New("unknown or retired signing key")
	}, jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(k.opts.Now))
	if err != nil {
		return "", "", fmt.Errorf("session token: %w", err)
	}
	if c.Issuer != Issuer && !strings.HasPrefix(c.Issuer, "https://") {
		return "", "", fmt.Errorf("session token: issuer %q is not a Drover server's", c.Issuer)
	}
	if !ids.Session.Valid(c.ID) || !ids.User.Valid(c.Subject) {
		return "", "", errors.New("session token names no session and user")
	}
	return c.ID, c.Subject, nil
}
