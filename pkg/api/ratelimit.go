package api

import (
	"net/http"
	"time"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/request"
)

// LoginLimiter limits login attempts by key (a username, a client
// address). The in-memory one is pkg/ratelimit's; one shared between
// replicas would implement the same method.
type LoginLimiter interface {
	// Allow spends one attempt of key; when none is left it returns false
	// and how long until one is.
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// Login limits, attempts a minute (and the burst), by default. A password
// login spends one attempt of its client address, then one of its (user,
// address), then one of its user; the first refusal answers 429 and spends
// nothing further. So one address cannot try more than
// DefaultLoginsPerUserAddress passwords of one user a minute, and cannot
// use up the user's ceiling, which takes DefaultLoginsPerUser /
// DefaultLoginsPerUserAddress addresses together: an attacker at one
// address never locks the owner out from another, and a distributed
// guess is still bounded by the ceiling. Redirect logins spend attempts of
// their address only: they take no password.
const (
	DefaultLoginsPerAddress     = 30
	DefaultLoginsPerUserAddress = 10
	DefaultLoginsPerUser        = 100
)

// clientKey is the key of the request's client address: request.Info's
// (the peer, or what a trusted proxy forwarded), or the peer's when the
// request did not pass request.WithRequestInfo.
func clientKey(r *http.Request) string {
	if info, ok := request.FromContext(r.Context()); ok {
		return info.ClientKey()
	}
	return request.AddrKey(request.ClientOptions{}.ClientAddr(r))
}

// allowAddress spends one login attempt of the client's address, answering
// 429 when none is left.
func (a *API) allowAddress(w http.ResponseWriter, r *http.Request, username string) bool {
	ok, wait := a.opts.LoginsPerAddress.Allow(clientKey(r))
	if !ok {
		a.tooMany(w, r, username, "address", wait)
	}
	return ok
}

// allowUser spends one attempt of (userKey, the client's address), then
// one of userKey, answering 429 when either is spent. userKey is the
// provider's LoginKey of the name, prefixed with the provider for
// provider users.
func (a *API) allowUser(w http.ResponseWriter, r *http.Request, username, userKey string) bool {
	// A username has no control character (checkLogin), so NUL separates.
	if ok, wait := a.opts.LoginsPerUserAddress.Allow(userKey + "\x00" + clientKey(r)); !ok {
		a.tooMany(w, r, username, "user and address", wait)
		return false
	}
	if ok, wait := a.opts.LoginsPerUser.Allow(userKey); !ok {
		a.tooMany(w, r, username, "user", wait)
		return false
	}
	return true
}

func (a *API) tooMany(w http.ResponseWriter, r *http.Request, username, limit string, wait time.Duration) {
	wait = wait.Round(time.Second) + time.Second
	a.opts.Logger.Warn("login rate limited", "limit", limit, "username", username, "remote", r.RemoteAddr,
		"client", clientKey(r))
	apierr.TooManyRequests(w, wait, "too many login attempts; try again in %s", wait)
}
