package tunnel

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/store"
)

// CloseCluster ends every tunnel session of a cluster (one that was
// deleted): the sessions leave the server's table at once, so that no new
// request and no cluster controller picks one, and each session's
// connection is closed, which ends its remotedialer session and the streams
// it carries. The agents cannot open new ones once the cluster's
// registration tokens are gone. It returns how many sessions it closed.
func (s *Server) CloseCluster(clusterID string) int {
	s.mu.Lock()
	list := s.sessions[clusterID]
	// Nothing of the cluster is kept: its id will not come back.
	delete(s.sessions, clusterID)
	delete(s.lastGone, clusterID)
	delete(s.endpoints, clusterID)
	delete(s.refused, clusterID)
	s.mu.Unlock()
	for _, sess := range list {
		sess.hangup.close()
	}
	if len(list) > 0 {
		s.opts.Logger.Info("closed the cluster's tunnel sessions", "cluster", clusterID, "sessions", len(list))
	}
	return len(list)
}

// hangup closes a session's hijacked connection on request: at once when
// the session has hijacked it, else as soon as it does.
type hangup struct {
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// attach records the session's connection, closing it if the session was
// hung up already.
func (h *hangup) attach(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		c.Close()
		return
	}
	h.conn = c
}

func (h *hangup) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.conn != nil {
		h.conn.Close()
	}
}

// RecheckTokens ends, every interval until ctx ends, the sessions whose
// registration token is gone or expired: an agent that connected with a
// token a rotation has since ended (after its grace) or that was deleted
// keeps no tunnel, as it could open no new one. One store read per
// distinct token per round.
func (s *Server) RecheckTokens(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.recheckTokens(ctx)
		}
	}
}

func (s *Server) recheckTokens(ctx context.Context) {
	s.mu.Lock()
	byToken := map[string][]*Session{}
	for _, list := range s.sessions {
		for _, sess := range list {
			byToken[sess.tokenID] = append(byToken[sess.tokenID], sess)
		}
	}
	s.mu.Unlock()
	now := s.opts.Now()
	for id, list := range byToken {
		rec, err := s.opts.Store.RegistrationToken(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.opts.Logger.Warn("recheck agent tokens", "err", err)
			return // the store is unwell: keep the tunnels, try again later
		case rec.ExpiresAt.IsZero() || now.Before(rec.ExpiresAt):
			continue
		}
		for _, sess := range list {
			s.opts.Logger.Info("agent's registration token ended; closing its tunnel", "cluster", sess.ClusterID,
				"kind", sess.Params.Kind, "node", sess.Params.Node, "token_id", id)
			sess.hangup.close()
		}
	}
}
