package tunnel

import (
	"net"
	"sync"
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
	delete(s.sessions, clusterID)
	if len(list) > 0 {
		s.lastGone[clusterID] = s.opts.Now()
	}
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
