package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rancher/remotedialer"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

// Store is what the tunnel reads and writes: registration tokens to verify
// an agent, and the apiserver endpoint the cluster agent reported.
type Store interface {
	RegistrationToken(ctx context.Context, id string) (store.RegistrationToken, error)
	Cluster(ctx context.Context, id string) (store.Cluster, error)
	SetAgentEndpoint(ctx context.Context, clusterID, endpoint string, ca []byte) error
	// ListClusters is read for the per-cluster state metrics.
	ListClusters(ctx context.Context) ([]store.Cluster, error)
}

// Options configure a Server.
type Options struct {
	Store   Store
	Logger  *slog.Logger
	Now     func() time.Time
	Metrics *metrics.Server // nil: a private registry
	// DeadAfter closes a tunnel that sent nothing for this long (default
	// agentapi.ServerIdleTimeout); ProbeAfter sends it a request through the
	// tunnel after this much silence (default 3/8 of DeadAfter), so only a
	// dead or frozen agent stays silent.
	DeadAfter  time.Duration
	ProbeAfter time.Duration
	// Admit is asked once an agent is verified, before its tunnel opens:
	// the server moves the connection to the agents' pool
	// (connlimit.MoveToAgents); an error refuses the agent with 503. nil:
	// every verified agent is admitted.
	Admit func(r *http.Request) error
	// Changed, when set, is called after a cluster's sessions changed (one
	// opened or ended), outside the server's lock: replicas record which
	// of them holds which cluster's tunnels (package replica). It must not
	// block.
	Changed func(clusterID string)
}

// Server accepts agent tunnels and hands out sessions by cluster.
type Server struct {
	opts    Options
	rd      *remotedialer.Server
	seq     atomic.Int64
	started time.Time

	mu       sync.Mutex
	sessions map[string][]*Session // cluster id -> live sessions, oldest first
	lastGone map[string]time.Time  // cluster id -> when its last session ended
	// endpoints are the apiserver endpoints cluster agents reported (read
	// through from the store): node-agent sessions to anything else are
	// refused or, if the record changed since they connected, unused.
	endpoints map[string]endpoint
	// refused is why the last agent of a cluster was refused, when that
	// is something its operator must act on (an old agent).
	refused map[string]string
}

// endpoint is an apiserver endpoint and the CA bundle that verifies it.
type endpoint struct {
	addr string
	ca   string
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewServer()
	}
	if opts.DeadAfter <= 0 {
		opts.DeadAfter = agentapi.ServerIdleTimeout
	}
	if opts.ProbeAfter <= 0 || opts.ProbeAfter >= opts.DeadAfter {
		opts.ProbeAfter = opts.DeadAfter * 3 / 8
	}
	s := &Server{opts: opts, sessions: map[string][]*Session{}, lastGone: map[string]time.Time{},
		endpoints: map[string]endpoint{}, refused: map[string]string{}, started: opts.Now()}
	s.rd = remotedialer.New(s.authorizeUpgrade, s.writeUpgradeError)
	opts.Metrics.WatchClusters(s.clusterStates)
	return s
}

type sessionKeyCtx struct{}

// ServeHTTP is the agents' connect endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec, err := s.verify(r)
	if err != nil {
		s.opts.Logger.Warn("agent connect refused", "remote", r.RemoteAddr, "err", err)
		apierr.Unauthorized(w)
		return
	}
	clusterID := rec.ClusterID
	params, err := agentapi.ParseParams(r.Header.Get(agentapi.ParamsHeader))
	if err != nil {
		s.opts.Logger.Warn("agent connect refused", "cluster", clusterID, "remote", r.RemoteAddr, "err", err)
		if errors.Is(err, agentapi.ErrOldAgent) {
			s.noteRefusal(clusterID, err.Error())
		}
		apierr.BadRequest(w, "invalid agent parameters: %v", err)
		return
	}
	// A node token must not open a cluster-agent session, whose tunnel would
	// carry the cluster's traffic. A cluster token may serve a node agent.
	if rec.Kind == store.AgentNode && params.Kind != agentapi.KindNode {
		s.opts.Logger.Warn("agent connect refused: node registration token used by a non-node agent",
			"cluster", clusterID, "kind", params.Kind, "remote", r.RemoteAddr)
		apierr.Forbidden(w, "this registration token admits node agents only")
		return
	}
	if code, err := s.checkEndpoint(r.Context(), clusterID, params); err != nil {
		s.opts.Logger.Warn("agent connect refused", "cluster", clusterID, "kind", params.Kind, "node", params.Node,
			"remote", r.RemoteAddr, "err", err)
		apierr.Code(w, code, "%v", err)
		return
	}
	if s.opts.Admit != nil {
		if err := s.opts.Admit(r); err != nil {
			s.opts.Logger.Warn("agent connect refused", "cluster", clusterID, "remote", r.RemoteAddr, "err", err)
			apierr.Unavailable(w, "the server has no room for another agent connection; try again later")
			return
		}
	}
	sess, err := newSession(clusterID, s.nextKey(clusterID), params, s.rd, s.opts.Now())
	if err != nil {
		s.opts.Logger.Error("agent session setup", "cluster", clusterID, "err", err)
		apierr.Internal(w)
		return
	}
	sess.dials = s.opts.Metrics.Dials.WithLabelValues(clusterID, params.Kind)
	sess.tokenID = rec.ID
	log := s.opts.Logger.With("cluster", clusterID, "kind", params.Kind, "node", params.Node, "remote", r.RemoteAddr)
	// The version only informs the roll-out: one that is not well formed
	// is dropped, not refused.
	if v, err := agentapi.ParseVersion(r.Header.Get(agentapi.VersionHeader)); err != nil {
		log.Warn("agent version ignored", "err", err)
	} else {
		sess.AgentVersion = v
	}
	if sess.AgentVersion != "" {
		log = log.With("agent_version", sess.AgentVersion)
	}
	if err := s.add(sess); err != nil {
		log.Warn("agent connect refused", "err", err)
		apierr.Conflict(w, "%v", err)
		return
	}
	log.Info("agent connected", "token_id", rec.ID)
	s.changed(clusterID)
	m := s.opts.Metrics
	m.Connects.WithLabelValues(clusterID, params.Kind).Inc()
	m.Sessions.WithLabelValues(params.Kind).Inc()
	var silent atomic.Bool
	defer func() {
		s.remove(sess)
		s.changed(clusterID)
		sess.close()
		reason := "closed"
		if silent.Load() {
			reason = "silent"
		}
		m.Sessions.WithLabelValues(params.Kind).Dec()
		m.Disconnects.WithLabelValues(clusterID, params.Kind, reason).Inc()
		log.Info("agent disconnected", "reason", reason, "duration", s.opts.Now().Sub(sess.ConnectedAt).Round(time.Millisecond))
	}()
	// remotedialer hijacks the connection and returns when the session ends.
	// The hijacked connection is watched: a tunnel that stays silent even
	// when probed is closed, which ends the session and its streams.
	lw := &livenessWriter{ResponseWriter: w, hangup: &sess.hangup, liveness: agentapi.Liveness{
		Dead: s.opts.DeadAfter, ProbeAfter: s.opts.ProbeAfter,
		Probe: func() { sess.probe(s.opts.DeadAfter) },
		OnDead: func() {
			silent.Store(true)
			log.Warn("agent tunnel silent, closing it", "silent_for", s.opts.DeadAfter)
		},
	}}
	s.rd.ServeHTTP(lw, r.WithContext(context.WithValue(r.Context(), sessionKeyCtx{}, sess.key)))
	// remotedialer leaves the hijacked connection open when a session ends.
	lw.close()
}

// verify checks the registration token and returns its record.
func (s *Server) verify(r *http.Request) (store.RegistrationToken, error) {
	raw, ok := token.Bearer(r)
	if !ok {
		return store.RegistrationToken{}, errors.New("no bearer registration token")
	}
	tok, err := token.Parse(raw)
	if err != nil {
		return store.RegistrationToken{}, err
	}
	rec, err := s.opts.Store.RegistrationToken(r.Context(), tok.ID)
	if err != nil {
		return store.RegistrationToken{}, fmt.Errorf("registration token %s: %w", tok.ID, err)
	}
	if !token.Verify(tok, rec.Hashed) {
		return store.RegistrationToken{}, fmt.Errorf("registration token %s: wrong secret", tok.ID)
	}
	if !rec.ExpiresAt.IsZero() && !s.opts.Now().Before(rec.ExpiresAt) {
		return store.RegistrationToken{}, fmt.Errorf("registration token %s expired", tok.ID)
	}
	return rec, nil
}

// authorizeUpgrade is remotedialer's authorizer: ServeHTTP already verified
// the agent and put the session key in the context.
func (s *Server) authorizeUpgrade(r *http.Request) (string, bool, error) {
	key, ok := r.Context().Value(sessionKeyCtx{}).(string)
	return key, ok, nil
}

func (s *Server) writeUpgradeError(w http.ResponseWriter, r *http.Request, code int, err error) {
	s.opts.Logger.Warn("agent websocket upgrade failed", "remote", r.RemoteAddr, "code", code, "err", err)
	apierr.Code(w, code, "agent connection failed: websocket upgrade required")
}

func (s *Server) nextKey(clusterID string) string {
	return clusterID + "#" + strconv.FormatInt(s.seq.Add(1), 10)
}

// add registers a session. A node agent may not take a node name whose
// agent is connected.
func (s *Server) add(sess *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.Params.Kind == agentapi.KindNode {
		for _, o := range s.sessions[sess.ClusterID] {
			if o.Params.Kind == agentapi.KindNode && o.Params.Node == sess.Params.Node && s.rd.HasSession(o.key) {
				return fmt.Errorf("node %q already has a connected agent", sess.Params.Node)
			}
		}
	}
	s.sessions[sess.ClusterID] = append(s.sessions[sess.ClusterID], sess)
	return nil
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.sessions[sess.ClusterID]
	i := slices.Index(list, sess)
	if i < 0 {
		return // closed already (CloseCluster)
	}
	list = append(list[:i:i], list[i+1:]...) // a new array: readers may hold the old one
	if len(list) == 0 {
		delete(s.sessions, sess.ClusterID)
		s.lastGone[sess.ClusterID] = s.opts.Now()
	} else {
		s.sessions[sess.ClusterID] = list
	}
}

func (s *Server) changed(clusterID string) {
	if s.opts.Changed != nil {
		s.opts.Changed(clusterID)
	}
}

// Held is how many sessions of each agent kind the server holds for a
// cluster, and since when the oldest of each kind has been connected.
type Held struct {
	Sessions int
	Since    time.Time
}

// Holding reports the cluster's sessions by agent kind (none: an empty
// map).
func (s *Server) Holding(clusterID string) map[string]Held {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Held{}
	for _, sess := range s.sessions[clusterID] {
		h := out[sess.Params.Kind]
		if h.Sessions == 0 || sess.ConnectedAt.Before(h.Since) {
			h.Since = sess.ConnectedAt
		}
		h.Sessions++
		out[sess.Params.Kind] = h
	}
	return out
}

// Session returns the session that should carry a new request for the
// cluster: the newest cluster-agent session, else the newest node-agent
// session to the endpoint the cluster agent last reported. A node agent
// carries bytes only: TLS runs end to end to that endpoint, verified with
// that CA, with a credential the cluster agent handed over.
func (s *Server) Session(clusterID string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.newest(clusterID, agentapi.KindCluster); ok {
		return sess, true
	}
	rec, ok := s.endpoints[clusterID]
	if !ok {
		return nil, false
	}
	list := s.sessions[clusterID]
	for i := len(list) - 1; i >= 0; i-- {
		p := list[i].Params
		if p.Kind == agentapi.KindNode && p.Endpoint == rec.addr && string(p.CACert) == rec.ca && s.rd.HasSession(list[i].key) {
			return list[i], true
		}
	}
	return nil, false
}

// ClusterAgent returns the cluster's newest cluster-agent session: the only
// kind that carries the controller's credential, registration tokens and
// anything else that is not a user's own request.
func (s *Server) ClusterAgent(clusterID string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newest(clusterID, agentapi.KindCluster)
}

func (s *Server) newest(clusterID, kind string) (*Session, bool) {
	list := s.sessions[clusterID]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Params.Kind == kind && s.rd.HasSession(list[i].key) {
			return list[i], true
		}
	}
	return nil, false
}

// Status is a cluster's connection state.
type Status struct {
	Connected bool       `json:"connected"`
	Via       string     `json:"via,omitempty"` // "cluster" or "node"
	Since     *time.Time `json:"since,omitempty"`
	// DisconnectedAt is when the last session ended, if none is live.
	DisconnectedAt *time.Time `json:"disconnectedAt,omitempty"`
	Sessions       int        `json:"sessions"`
	// ClusterAgents and NodeAgents are the live sessions by agent kind.
	ClusterAgents int `json:"clusterAgents"`
	NodeAgents    int `json:"nodeAgents"`
	// Refused says why the cluster's last agent was refused, when its
	// operator must act (an agent older than the server).
	Refused string `json:"refused,omitempty"`
	// AgentVersion is the build version the live session's agent sent;
	// empty for agents that do not send one.
	AgentVersion string `json:"agentVersion,omitempty"`
}

// Count adds n sessions of an agent kind to ClusterAgents or NodeAgents.
func (st *Status) Count(kind string, n int) {
	switch kind {
	case agentapi.KindCluster:
		st.ClusterAgents += n
	case agentapi.KindNode:
		st.NodeAgents += n
	}
}

// Status reports the cluster's connection state.
func (s *Server) Status(clusterID string) Status {
	sess, ok := s.Session(clusterID)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Sessions: len(s.sessions[clusterID]), Refused: s.refused[clusterID]}
	for _, sess := range s.sessions[clusterID] {
		st.Count(sess.Params.Kind, 1)
	}
	if ok {
		since := sess.ConnectedAt
		st.Connected, st.Via, st.Since, st.AgentVersion = true, sess.Params.Kind, &since, sess.AgentVersion
	} else if t, gone := s.lastGone[clusterID]; gone {
		st.DisconnectedAt = &t
	}
	return st
}

// Clusters lists the ids of clusters with at least one session.
func (s *Server) Clusters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// livenessWriter hands remotedialer a watched connection when it hijacks.
type livenessWriter struct {
	http.ResponseWriter
	liveness agentapi.Liveness
	conn     net.Conn // set once hijacked
	hangup   *hangup  // the session's: CloseCluster closes conn through it
}

func (w *livenessWriter) close() {
	if w.conn != nil {
		w.conn.Close()
	}
}

func (w *livenessWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	// Through any middleware that wraps the writer (and unwraps it).
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if rw.Reader.Buffered() > 0 {
		// The websocket library refuses this case itself; do not hide
		// buffered bytes from it.
		return c, rw, nil
	}
	wc := agentapi.Watch(&messageLimit{Conn: c}, w.liveness)
	w.conn = wc
	w.hangup.attach(wc)
	return wc, bufio.NewReadWriter(bufio.NewReader(wc), bufio.NewWriter(wc)), nil
}
