package tunnel

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// IdleTimeout is how long a tunnel may go without receiving a byte before
// its end closes it. remotedialer's client pings every 5 s and the server
// answers each ping, so a healthy tunnel is never silent for more than
// about 5 s in either direction; three missed pings mean the peer is gone
// or frozen (a half-open connection) and the tunnel is closed.
const IdleTimeout = 15 * time.Second

// WatchIdle wraps c so that it is closed, and onIdle called, once no byte
// has been read for timeout. The watch ends when the connection is closed.
func WatchIdle(c net.Conn, timeout time.Duration, onIdle func()) net.Conn {
	w := &idleConn{Conn: c, done: make(chan struct{})}
	w.last.Store(time.Now().UnixNano())
	go w.watch(timeout, onIdle)
	return w
}

type idleConn struct {
	net.Conn
	last atomic.Int64 // unix nanoseconds of the last successful read
	done chan struct{}
	once sync.Once
}

func (c *idleConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *idleConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

func (c *idleConn) watch(timeout time.Duration, onIdle func()) {
	t := time.NewTicker(max(timeout/8, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.last.Load())) > timeout {
				if onIdle != nil {
					onIdle()
				}
				c.Close()
				return
			}
		}
	}
}
