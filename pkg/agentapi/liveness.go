package agentapi

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Liveness says when a connection counts as dead.
type Liveness struct {
	// Dead: no byte read for this long closes the connection.
	Dead time.Duration
	// ProbeAfter: no byte read for this long calls Probe, which should make
	// a live peer send something. Zero: never probe.
	ProbeAfter time.Duration
	Probe      func()
	// OnDead runs just before the connection is closed for silence.
	OnDead func()
}

// WatchIdle wraps c so that it is closed, and onIdle called, once no byte
// has been read for timeout. The watch ends when the connection is closed.
func WatchIdle(c net.Conn, timeout time.Duration, onIdle func()) net.Conn {
	return Watch(c, Liveness{Dead: timeout, OnDead: onIdle})
}

// Watch wraps c with the liveness rules l.
func Watch(c net.Conn, l Liveness) net.Conn {
	w := &watchedConn{Conn: c, done: make(chan struct{})}
	w.last.Store(time.Now().UnixNano())
	go w.watch(l)
	return w
}

type watchedConn struct {
	net.Conn
	last atomic.Int64 // unix nanoseconds of the last successful read
	done chan struct{}
	once sync.Once
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

func (c *watchedConn) watch(l Liveness) {
	step := l.Dead / 8
	if l.ProbeAfter > 0 {
		step = min(step, l.ProbeAfter/4)
	}
	t := time.NewTicker(max(step, 10*time.Millisecond))
	defer t.Stop()
	probedAt := int64(0) // the silence (last read) a probe was sent for
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			last := c.last.Load()
			silent := now.Sub(time.Unix(0, last))
			if silent > l.Dead {
				if l.OnDead != nil {
					l.OnDead()
				}
				c.Close()
				return
			}
			if l.ProbeAfter > 0 && l.Probe != nil && silent > l.ProbeAfter && probedAt != last {
				probedAt = last
				go l.Probe()
			}
		}
	}
}
