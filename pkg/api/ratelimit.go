package api

import (
	"net"
	"time"
)

// LoginLimiter limits login attempts by key (a username, a client
// address). The in-memory one is pkg/ratelimit's; one shared between
// replicas would implement the same method.
type LoginLimiter interface {
	// Allow spends one attempt of key; when none is left it returns false
	// and how long until one is.
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// clientIP is the address part of RemoteAddr (no proxy headers are trusted).
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
