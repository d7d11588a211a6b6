package ratelimit

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"time"
)

// Store counts events against limits every server replica shares
// (store.Store.RateLimit).
type Store interface {
	RateLimit(ctx context.Context, digest []byte, burst int, per time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Shared is a keyed limit of Burst events per Per that server replicas
// share through their database: the same Allow as Keyed, counted once for
// all. Keys reach the store only as digests (named by the limit), and a
// store that cannot answer refuses (fail closed: a login needs the
// database anyway).
type Shared struct {
	st    Store
	name  string
	burst int
	per   time.Duration
	log   *slog.Logger
}

// NewShared returns the shared limit called name (each limit has its own
// keys).
func NewShared(st Store, name string, burst int, per time.Duration, logger *slog.Logger) *Shared {
	return &Shared{st: st, name: name, burst: burst, per: per, log: logger}
}

// Allow counts an event of key: ok, or refused with the time until the
// next would be allowed.
func (s *Shared) Allow(key string) (bool, time.Duration) {
	h := sha256.New()
	h.Write([]byte(s.name))
	h.Write([]byte{0})
	h.Write([]byte(key))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, wait, err := s.st.RateLimit(ctx, h.Sum(nil), s.burst, s.per)
	if err != nil {
		s.log.Warn("shared rate limit: refusing", "limit", s.name, "err", err)
		return false, time.Second
	}
	return ok, wait
}
