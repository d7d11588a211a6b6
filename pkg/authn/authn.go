package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/pkg/websession"
)

// Identity is an authenticated caller.
type Identity struct {
	UserID   string
	Username string
	Admin    bool
	// Groups are the caller's Drover groups (not system:authenticated).
	Groups    []string
	TokenID   string
	TokenKind string
	// ClusterID scopes the token to one cluster; empty means any.
	ClusterID string
	// ExpiresAt is when the credential expires (zero: never).
	ExpiresAt time.Time
	// StreamOwner is the token whose life bounds the caller's open
	// streams (watches, logs, exec): the credential itself, except for the
	// credential plugin's short-lived tokens, whose streams belong to the
	// login session they were minted from (a watch outlives the token of
	// minutes it started with, and ends when the session does).
	StreamOwner string
	// Cookie says the credential came in the console's session cookie
	// (WithSessionAuthentication), not a bearer token.
	Cookie bool
}

// streamOwner is the one owner of Identity.StreamOwner's rule.
func streamOwner(t store.Token) string {
	if (t.Kind == store.KindPlugin || t.Kind == store.KindPluginACE) && t.ParentID != "" {
		return t.ParentID
	}
	return t.ID
}

// ErrUnauthenticated covers every reason a token is refused; the reason is
// for logs only.
var ErrUnauthenticated = errors.New("unauthenticated")

// Store is what the authenticator reads.
type Store interface {
	Token(ctx context.Context, id string) (store.Token, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Options configure an Authenticator.
type Options struct {
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time
	// CacheTTL bounds how long a verified token is trusted without a store
	// read. Revocations through this server invalidate at once.
	CacheTTL time.Duration
	// Sessions verifies login session JWTs; nil: only opaque tokens.
	Sessions SessionVerifier
}

// SessionVerifier checks a session JWT and names its session and user.
type SessionVerifier interface {
	Verify(raw string) (sessionID, userID string, err error)
}

// Authenticator verifies bearer tokens.
type Authenticator struct {
	opts  Options
	mu    sync.Mutex
	cache map[string]*entry
	// touches are the last-used writes in flight (Wait).
	touches sync.WaitGroup
}

type entry struct {
	digest    [sha256.Size]byte
	identity  Identity
	expiresAt time.Time // the token's own expiry
	cachedAt  time.Time
	touchedAt time.Time
}

// touchEvery bounds how often last-used is written.
const touchEvery = time.Minute

// New returns an Authenticator.
func New(opts Options) *Authenticator {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 10 * time.Second
	}
	return &Authenticator{opts: opts, cache: map[string]*entry{}}
}

// Invalidate forgets a token at once (after revoke or delete).
func (a *Authenticator) Invalidate(tokenID string) {
	a.mu.Lock()
	delete(a.cache, tokenID)
	a.mu.Unlock()
}

// InvalidateAll forgets every cached token (after a change to global
// bindings or groups, which can change anyone's identity).
func (a *Authenticator) InvalidateAll() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

// InvalidateUser forgets every cached token of a user.
func (a *Authenticator) InvalidateUser(userID string) {
	a.mu.Lock()
	for id, e := range a.cache {
		if e.identity.UserID == userID {
			delete(a.cache, id)
		}
	}
	a.mu.Unlock()
}

// AuthenticateToken verifies a raw "<id>:<secret>" token.
func (a *Authenticator) AuthenticateToken(ctx context.Context, raw string) (Identity, error) {
	if strings.Count(raw, ".") == 2 {
		return a.authenticateSession(ctx, raw)
	}
	tok, err := token.Parse(raw)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return a.lookup(ctx, tok.ID, sha256.Sum256([]byte(tok.Secret)), func(rec store.Token) bool {
		return token.Verify(tok, rec.Hashed)
	})
}

// authenticateSession verifies a login session's JWT, then its session row
// (which logout deletes).
func (a *Authenticator) authenticateSession(ctx context.Context, raw string) (Identity, error) {
	if a.opts.Sessions == nil {
		return Identity{}, fmt.Errorf("%w: session tokens are not enabled", ErrUnauthenticated)
	}
	sid, uid, err := a.opts.Sessions.Verify(raw)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return a.lookup(ctx, sid, sha256.Sum256([]byte(raw)), func(rec store.Token) bool {
		return rec.Kind == store.KindSession && rec.UserID == uid
	})
}

// lookup resolves a token id to an Identity, from the cache when it holds
// the same credential (digest), else from the store, checked by verify.
func (a *Authenticator) lookup(ctx context.Context, tokenID string, digest [sha256.Size]byte, verify func(store.Token) bool) (Identity, error) {
	now := a.opts.Now()
	a.mu.Lock()
	e, ok := a.cache[tokenID]
	if ok && now.Sub(e.cachedAt) < a.opts.CacheTTL {
		match := subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1
		expired := !e.expiresAt.IsZero() && !now.Before(e.expiresAt)
		id := e.identity
		touch := match && !expired && now.Sub(e.touchedAt) >= touchEvery
		if touch {
			e.touchedAt = now
		}
		a.mu.Unlock()
		switch {
		case !match:
			return Identity{}, fmt.Errorf("%w: token %s: wrong secret", ErrUnauthenticated, tokenID)
		case expired:
			return Identity{}, fmt.Errorf("%w: token %s expired", ErrUnauthenticated, tokenID)
		}
		if touch {
			a.touch(tokenID, now)
		}
		return id, nil
	}
	a.mu.Unlock()

	rec, err := a.opts.Store.Token(ctx, tokenID)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if !verify(rec) {
		return Identity{}, fmt.Errorf("%w: token %s: wrong secret", ErrUnauthenticated, tokenID)
	}
	if !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt) {
		return Identity{}, fmt.Errorf("%w: token %s expired", ErrUnauthenticated, tokenID)
	}
	user, err := a.opts.Store.UserByID(ctx, rec.UserID)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: token %s: %w", ErrUnauthenticated, tokenID, err)
	}
	if user.Disabled {
		return Identity{}, fmt.Errorf("%w: token %s: user %s is disabled", ErrUnauthenticated, tokenID, user.ID)
	}
	id := Identity{
		UserID: user.ID, Username: user.Username, Admin: user.Admin, Groups: Groups(user),
		TokenID: rec.ID, TokenKind: rec.Kind, ClusterID: rec.ClusterID, ExpiresAt: rec.ExpiresAt,
		StreamOwner: streamOwner(rec),
	}
	a.mu.Lock()
	a.cache[tokenID] = &entry{digest: digest, identity: id, expiresAt: rec.ExpiresAt, cachedAt: now, touchedAt: rec.LastUsedAt}
	a.mu.Unlock()
	if now.Sub(rec.LastUsedAt) >= touchEvery {
		a.touch(tokenID, now)
	}
	return id, nil
}

func (a *Authenticator) touch(id string, now time.Time) {
	// Detached from the request: a cancelled request must not lose the write,
	// and the request must not wait for it.
	a.touches.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.opts.Store.TouchToken(ctx, id, now); err != nil {
			a.opts.Logger.Warn("record token use", "token_id", id, "err", err)
		}
	})
}

// Wait returns once the last-used writes in flight are done; call it before
// closing the store.
func (a *Authenticator) Wait() { a.touches.Wait() }

// Groups returns a user's Drover groups, as impersonated downstream (without
// system:authenticated, which package impersonation adds): the provider's
// groups (prefixed with the provider's name) and, for global admins,
// downstream.AdminGroup.
func Groups(u store.User) []string {
	out := make([]string, 0, len(u.Groups)+1)
	if u.Admin {
		out = append(out, downstream.AdminGroup)
	}
	out = append(out, u.Groups...)
	if len(out) == 0 {
		return nil
	}
	return out
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request's identity; ok is false when there is none.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// TokenAuthenticator is what WithAuthentication needs.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, raw string) (Identity, error)
}

// WithAuthentication requires a valid bearer token and puts its Identity in
// the request context. Anything else gets 401 and goes no further.
func WithAuthentication(next http.Handler, auth TokenAuthenticator, logger *slog.Logger) http.Handler {
	return withAuthentication(next, auth, logger, false)
}

// WithSessionAuthentication is WithAuthentication that also takes the
// console's session cookie (package websession) when the request has no
// bearer token: the request must first pass websession.Check (else 403,
// before the credential is looked at), and the cookie must hold a login
// session (else 401). Its Identity says Cookie. Only the JSON API's chain
// uses it.
func WithSessionAuthentication(next http.Handler, auth TokenAuthenticator, logger *slog.Logger) http.Handler {
	return withAuthentication(next, auth, logger, true)
}

func withAuthentication(next http.Handler, auth TokenAuthenticator, logger *slog.Logger, cookies bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := token.Bearer(r)
		fromCookie := false
		if !ok && cookies && len(r.Header.Values("Authorization")) == 0 {
			raw, fromCookie = websession.Credential(r)
			ok = fromCookie
		}
		if !ok {
			apierr.Unauthorized(w)
			return
		}
		if fromCookie {
			if err := websession.Check(r, raw); err != nil {
				logger.Info("session cookie refused", "path", request.LogPath(r), "remote", r.RemoteAddr, "err", err)
				apierr.Forbidden(w, "refused: a request with the console's session cookie must come from the console "+
					"(this server's Origin and the X-CSRF-Token header); other clients send a bearer token")
				return
			}
		}
		id, ok := authenticate(w, r, raw, auth, logger)
		if !ok {
			return
		}
		if fromCookie {
			if id.TokenKind != store.KindSession {
				logger.Info("authentication failed", "path", request.LogPath(r), "remote", r.RemoteAddr,
					"err", "a session cookie holding a "+id.TokenKind+" token")
				apierr.Unauthorized(w)
				return
			}
			id.Cookie = true
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// authenticate verifies raw or answers 401 (logged, never the secret).
func authenticate(w http.ResponseWriter, r *http.Request, raw string, auth TokenAuthenticator, logger *slog.Logger) (Identity, bool) {
	id, err := auth.AuthenticateToken(r.Context(), raw)
	if err != nil {
		logger.Info("authentication failed", "path", request.LogPath(r), "remote", r.RemoteAddr, "err", err)
		if store.Unavailable(err) {
			// Refused all the same, but as what it is: the client retries
			// rather than asking its user for new credentials.
			w.Header().Set("Retry-After", "1")
			apierr.Unavailable(w, "the database cannot be reached to check your credential; retry")
			return Identity{}, false
		}
		apierr.Unauthorized(w)
		return Identity{}, false
	}
	return id, true
}

// WithClusterAddress serves a request whose path is not Drover's own
// (request.DroverOwned) but whose bearer token is scoped to a cluster as
// that cluster's: request.Readdress puts it under the proxy's prefix, and
// it goes through the proxy's chain like any other (the same checks run
// again there). Such a request with a token that cannot be verified gets
// 401, as the proxy would answer it: a client that lost the prefix must
// not take Drover's own /healthz for its cluster's. A request without a
// bearer token, or whose token is scoped to no cluster, is left as it is
// (Drover's health endpoints answer it).
func WithClusterAddress(next http.Handler, auth TokenAuthenticator, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if request.DroverOwned(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := token.Bearer(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		id, ok := authenticate(w, r, raw, auth, logger)
		if !ok {
			return
		}
		if id.ClusterID != "" {
			if readdressed, ok := request.Readdress(r, id.ClusterID); ok {
				r = readdressed
			}
		}
		next.ServeHTTP(w, r)
	})
}
