package authproxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

type stream struct {
	cancel context.CancelCauseFunc
	owner  Owner
}

// Owner is who opened a stream, and to which cluster.
type Owner struct{ UserID, ClusterID string }

// NewStreams returns a tracker that re-checks tokens every interval.
func NewStreams(tokens TokenChecker, interval time.Duration, now func() time.Time, log *slog.Logger) *Streams {
	if now == nil {
		now = time.Now
	}
	return &Streams{tokens: tokens, interval: interval, now: now, log: log, byToken: map[string]map[*stream]struct{}{}}
}

// track registers an open request; the returned function unregisters it.
func (s *Streams) track(tokenID string, owner Owner, cancel context.CancelCauseFunc) func() {
	st := &stream{cancel: cancel, owner: owner}
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
	// Copied under the lock: a request that ends meanwhile removes itself
	// from set.
	ended := make([]*stream, 0, len(set))
	for st := range set {
		ended = append(ended, st)
	}
	s.mu.Unlock()
	for _, st := range ended {
		st.cancel(errRevoked)
	}
	return len(ended)
}

// Recheck ends the open requests of every owner that allowed says may no
// longer reach its cluster (call it after bindings, groups or a user's
// global role changed), and returns how many it ended. An owner allowed
// cannot judge (an error) keeps its streams: the token re-check and the
// next change still apply.
func (s *Streams) Recheck(ctx context.Context, allowed func(ctx context.Context, o Owner) (bool, error)) int {
	s.mu.Lock()
	owners := map[Owner]bool{}
	for _, set := range s.byToken {
		for st := range set {
			owners[st.owner] = true
		}
	}
	s.mu.Unlock()
	denied := map[Owner]bool{}
	for o := range owners {
		ok, err := allowed(ctx, o)
		if err != nil {
			s.log.Warn("re-check access of open streams", "user", o.UserID, "cluster", o.ClusterID, "err", err)
			continue
		}
		if !ok {
			denied[o] = true
		}
	}
	if len(denied) == 0 {
		return 0
	}
	var ended []*stream
	s.mu.Lock()
	for _, set := range s.byToken {
		for st := range set {
			if denied[st.owner] {
				ended = append(ended, st)
				delete(set, st)
			}
		}
	}
	s.mu.Unlock()
	for _, st := range ended {
		st.cancel(errAccessRemoved)
	}
	for o := range denied {
		s.log.Info("closed open streams of a user who lost access to the cluster", "user", o.UserID, "cluster", o.ClusterID)
	}
	return len(ended)
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

// causeStatus is what a client is told when the proxy ended its request on
// purpose (cause is the request context's cause); ok is false for any
// other cause. Every kind of response says it the same way: a Status, an
// ERROR watch event, an exec's error channel.
func causeStatus(cause error) (st metav1.Status, ok bool) {
	switch {
	case errors.Is(cause, errRevoked):
		return metav1.Status{Code: http.StatusUnauthorized, Reason: metav1.StatusReasonUnauthorized, Message: errRevoked.Error()}, true
	case errors.Is(cause, errAccessRemoved):
		return metav1.Status{Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: errAccessRemoved.Error()}, true
	}
	return st, false
}

// isProxyEnd reports whether cause is the proxy ending a request on purpose.
func isProxyEnd(cause error) bool {
	_, ok := causeStatus(cause)
	return ok
}

// errRevoked is the cause of a request ended by revocation.
var errRevoked = errors.New("the token was revoked or expired")

// errAccessRemoved is the cause of a request ended because its user lost
// access to the cluster.
var errAccessRemoved = errors.New("access to the cluster was removed")

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
