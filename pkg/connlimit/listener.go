package connlimit

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/request"
)

// Defaults of the caps.
const (
	DefaultMaxConns           = 4096
	DefaultMaxConnsPerAddress = 256
	DefaultMaxAgentConns      = 4096
)

// Options configure a Listener. Zero caps take the defaults.
type Options struct {
	// MaxConns bounds the ordinary connections (everything but agent
	// tunnels) at once.
	MaxConns int
	// MaxConnsPerAddress bounds the ordinary connections of one peer
	// address (request.AddrKey).
	MaxConnsPerAddress int
	// MaxAgentConns bounds the connections that carry agent tunnels.
	MaxAgentConns int
	// TrustedProxies are exempt from MaxConnsPerAddress (they carry many
	// clients); the same list request.ClientOptions trusts.
	TrustedProxies []netip.Prefix
	// Metrics records pool sizes and refusals; nil: a private registry.
	Metrics *metrics.Server
	Logger  *slog.Logger
}

// Listener counts and caps the connections it accepts; see the package
// documentation.
type Listener struct {
	net.Listener
	opts Options

	mu       sync.Mutex
	ordinary int
	agents   int
	perAddr  map[string]int
}

// NewListener wraps ln.
func NewListener(ln net.Listener, opts Options) *Listener {
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxConnsPerAddress <= 0 {
		opts.MaxConnsPerAddress = DefaultMaxConnsPerAddress
	}
	if opts.MaxAgentConns <= 0 {
		opts.MaxAgentConns = DefaultMaxAgentConns
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewServer()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, opts: opts, perAddr: map[string]int{}}
}

// Refusal reasons, the values of the refused-connections metric's label.
const (
	refusedTotal   = "total"
	refusedAddress = "address"
	refusedAgents  = "agents"
)

// Accept returns the next connection within the caps; connections over a
// cap are closed as they come.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := peer(c.RemoteAddr())
		conn := &Conn{Conn: c, l: l, key: request.AddrKey(addr), exempt: l.trusted(addr)}
		if reason := l.admit(conn); reason != "" {
			c.Close()
			l.opts.Metrics.ConnectionsRefused.WithLabelValues(reason).Inc()
			l.opts.Logger.Debug("connection refused: over the cap", "cap", reason, "remote", addr.String())
			continue
		}
		return conn, nil
	}
}

func (l *Listener) trusted(a netip.Addr) bool {
	for _, p := range l.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// admit counts c in the ordinary pool, or says which cap refuses it.
func (l *Listener) admit(c *Conn) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.ordinary >= l.opts.MaxConns:
		return refusedTotal
	case !c.exempt && l.perAddr[c.key] >= l.opts.MaxConnsPerAddress:
		return refusedAddress
	}
	l.ordinary++
	if !c.exempt {
		l.perAddr[c.key]++
	}
	c.pool = poolOrdinary
	l.gauges()
	return ""
}

// release uncounts c from its pool, once; the caller holds l.mu.
func (l *Listener) release(c *Conn) {
	switch c.pool {
	case poolOrdinary:
		l.ordinary--
		if !c.exempt {
			if l.perAddr[c.key]--; l.perAddr[c.key] <= 0 {
				delete(l.perAddr, c.key)
			}
		}
	case poolAgent:
		l.agents--
	}
	c.pool = poolNone
	l.gauges()
}

// gauges publishes the pool sizes; the caller holds l.mu.
func (l *Listener) gauges() {
	l.opts.Metrics.Connections.WithLabelValues(poolOrdinary.String()).Set(float64(l.ordinary))
	l.opts.Metrics.Connections.WithLabelValues(poolAgent.String()).Set(float64(l.agents))
}

// Counts are the connections counted now: ordinary, agents, and the
// ordinary ones of one address key.
func (l *Listener) Counts(addrKey string) (ordinary, agents, ofAddress int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ordinary, l.agents, l.perAddr[addrKey]
}

type pool uint8

const (
	poolNone pool = iota // refused or closed
	poolOrdinary
	poolAgent
)

func (p pool) String() string {
	if p == poolAgent {
		return "agent"
	}
	return "ordinary"
}

// Conn is a counted connection; closing it uncounts it.
type Conn struct {
	net.Conn
	l      *Listener
	key    string
	exempt bool // from the per-address cap; guarded by l.mu once accepted
	pool   pool // guarded by l.mu
}

// Close uncounts the connection and closes it.
func (c *Conn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// ErrAgentsFull: the agents' cap is reached.
var ErrAgentsFull = errors.New("too many agent connections")

// moveToAgents moves c from the ordinary pool to the agents'.
func (c *Conn) moveToAgents() error {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case c.pool == poolAgent:
		return nil
	case c.pool != poolOrdinary:
		return errors.New("connection closed")
	case l.agents >= l.opts.MaxAgentConns:
		l.opts.Metrics.ConnectionsRefused.WithLabelValues(refusedAgents).Inc()
		return ErrAgentsFull
	}
	l.release(c)
	c.pool = poolAgent
	l.agents++
	l.gauges()
	return nil
}

type connKey struct{}

// ConnContext is the http.Server's ConnContext: it lets the handlers of a
// connection's requests find it (MoveToAgents).
func (l *Listener) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if conn, ok := c.(*Conn); ok && conn.l == l {
		return context.WithValue(ctx, connKey{}, conn)
	}
	return ctx
}

// MoveToAgents moves the connection a request came on (ctx is the
// request's) to the agent pool: call it once the agent is authenticated.
// ErrAgentsFull when the agents' cap is reached; nil when the connection
// is not counted (a server without a Listener, tests).
func MoveToAgents(ctx context.Context) error {
	conn, ok := ctx.Value(connKey{}).(*Conn)
	if !ok {
		return nil
	}
	return conn.moveToAgents()
}

// leaveAddressCap uncounts c from its address's count; it stays in the
// ordinary pool's total.
func (c *Conn) leaveAddressCap() {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.pool != poolOrdinary || c.exempt {
		return
	}
	if l.perAddr[c.key]--; l.perAddr[c.key] <= 0 {
		delete(l.perAddr, c.key)
	}
	c.exempt = true
}

// LeaveAddressCap takes the connection a request came on (ctx is the
// request's) out of its address's count, for the rest of its life; it
// still counts in the total. Call it once a request proved the connection
// is another server replica's (package replica): a replica carries many
// users' relayed requests from one address, as a trusted proxy does. A
// request on no counted connection: nothing.
func LeaveAddressCap(ctx context.Context) {
	if conn, ok := ctx.Value(connKey{}).(*Conn); ok {
		conn.leaveAddressCap()
	}
}

// peer is a connection's peer address; invalid when it is not IP.
func peer(a net.Addr) netip.Addr {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
