package authproxy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/store"
)

// TokenChecker reads a token's current record.
type TokenChecker interface {
	Token(ctx context.Context, id string) (store.Token, error)
}

// Streams tracks the proxy's open requests by token, so that a revoked or
// expired token's watches, log streams and exec sessions end within
// seconds, not when the client hangs up. Revoke ends them at once on this
// server; Run re-checks every open stream's token on a short period, which
// also covers revocations made through another server replica.
type Streams struct {
	tokens   TokenChecker
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	byToken map[string]map[*stream]struct{}
}

type stream struct{ cancel context.CancelCauseFunc }

// NewStreams returns a tracker that re-checks tokens every interval.
func NewStreams(tokens TokenChecker, interval time.Duration, now func() time.Time, log *slog.Logger) *Streams {
	if now == nil {
		now = time.Now
	}
	return &Streams{tokens: tokens, interval: interval, now: now, log: log, byToken: map[string]map[*stream]struct{}{}}
}

// track registers an open request; the returned function unregisters it.
func (s *Streams) track(tokenID string, cancel context.CancelCauseFunc) func() {
	st := &stream{cancel: cancel}
	s.mu.Lock()
	set := s.byToken[tokenID]
	if set == nil {
		set = map[*stream]struct{}{}
		s.byToken[tokenID] = set
	}
	set[st] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(set, st)
		if len(set) == 0 && len(s.byToken[tokenID]) == 0 {
			delete(s.byToken, tokenID)
		}
		s.mu.Unlock()
	}
}

// Revoke ends every open request of a token and returns how many.
func (s *Streams) Revoke(tokenID string) int {
	s.mu.Lock()
	set := s.byToken[tokenID]
	delete(s.byToken, tokenID)
	s.mu.Unlock()
	for st := range set {
		st.cancel(errRevoked)
	}
	return len(set)
}

// Open returns how many requests a token has open.
func (s *Streams) Open(tokenID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byToken[tokenID])
}

// Run re-checks the tokens of open requests every interval until ctx ends.
func (s *Streams) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		ids := make([]string, 0, len(s.byToken))
		for id := range s.byToken {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		for _, id := range ids {
			cctx, cancel := context.WithTimeout(ctx, s.interval)
			rec, err := s.tokens.Token(cctx, id)
			cancel()
			if ctx.Err() != nil {
				return
			}
			gone := err != nil && isNotFound(err)
			expired := err == nil && !rec.ExpiresAt.IsZero() && !s.now().Before(rec.ExpiresAt)
			if gone || expired {
				n := s.Revoke(id)
				s.log.Info("closed open streams of a revoked or expired token", "token_id", id, "streams", n)
			}
		}
	}
}

// errRevoked is the cause of a request ended by revocation.
var errRevoked = errors.New("the token was revoked or expired")

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
