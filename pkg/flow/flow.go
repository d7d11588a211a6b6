package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

const (
	// Window is how many bytes an end may send that the other has not yet
	// consumed. It must stay below remotedialer's pause threshold (its
	// MaxBuffer, 2 MiB), whatever else is in flight on the stream.
	Window = 1 << 20
	// MaxData is the largest DATA payload: a frame then fits the 32 KiB
	// reads remotedialer (and io.Copy) use, one tunnel message each.
	MaxData = 32<<10 - headerLen
	// grantAt is how much an end consumes before it returns credit; any
	// value up to Window cannot deadlock (a sender out of credit has Window
	// bytes outstanding, all of which the receiver will consume).
	grantAt = Window / 4

	headerLen = 4
	typeData  = 0
	typeGrant = 1

	// readChunk is how much of a DATA payload is read at a time.
	readChunk = 16 << 10
	// keepBuffer is the capacity a drained receive buffer may keep.
	keepBuffer = 64 << 10
)

// ErrProtocol ends a stream whose peer broke the frame format or sent more
// than its credit.
var ErrProtocol = errors.New("flow: protocol violation")

// Conn is a flow-controlled stream over under (the tunnel's connection),
// itself a net.Conn. One goroutine reads under all the time, so that credit
// the peer returns is seen even while nobody reads data, and no byte waits
// in remotedialer's buffer.
type Conn struct {
	under net.Conn

	mu      sync.Mutex
	cond    sync.Cond
	in      bytes.Buffer // received, not yet read
	allowed int          // bytes the peer may still send
	owed    int          // bytes read since credit was last returned
	credit  int          // bytes this end may still send
	rerr    error        // why nothing more will arrive, once in is drained
	closed  bool
	rdl     time.Time
	wdl     time.Time

	wmu  sync.Mutex // one Write at a time: its frames stay in order
	wbuf []byte     // the frame being written (under wmu)

	scratch []byte // the reading goroutine's
}

// New starts flow control on under; the peer must speak it too.
func New(under net.Conn) *Conn {
	c := &Conn{under: under, allowed: Window, credit: Window}
	c.cond.L = &c.mu
	go c.readLoop()
	return c
}

func (c *Conn) readLoop() {
	var h [headerLen]byte
	for {
		if _, err := io.ReadFull(c.under, h[:]); err != nil {
			c.end(err, false)
			return
		}
		typ, n := h[0], int(h[1])<<16|int(h[2])<<8|int(h[3])
		switch {
		case typ == typeGrant && n > 0:
			c.mu.Lock()
			c.credit += n
			over := c.credit > Window
			c.cond.Broadcast()
			c.mu.Unlock()
			if over {
				c.end(fmt.Errorf("%w: credit beyond the window", ErrProtocol), true)
				return
			}
		case typ == typeData && n > 0 && n <= MaxData:
			c.mu.Lock()
			ok := n <= c.allowed
			if ok {
				c.allowed -= n
			}
			c.mu.Unlock()
			if !ok {
				c.end(fmt.Errorf("%w: data beyond the window", ErrProtocol), true)
				return
			}
			if err := c.receive(n); err != nil {
				c.end(err, false)
				return
			}
		default:
			c.end(fmt.Errorf("%w: frame of type %d and length %d", ErrProtocol, typ, n), true)
			return
		}
	}
}

// receive moves n payload bytes from under to the receive buffer.
func (c *Conn) receive(n int) error {
	if c.scratch == nil {
		c.scratch = make([]byte, readChunk)
	}
	for n > 0 {
		k := min(n, len(c.scratch))
		if _, err := io.ReadFull(c.under, c.scratch[:k]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		c.mu.Lock()
		if !c.closed { // after Close, nobody may read what still comes
			c.in.Write(c.scratch[:k])
			c.cond.Broadcast()
		}
		c.mu.Unlock()
		n -= k
	}
	return nil
}

// end records why the stream will carry nothing more; on a protocol
// violation it closes under, so the peer learns of it too.
func (c *Conn) end(err error, closeUnder bool) {
	c.mu.Lock()
	if c.rerr == nil {
		c.rerr = err
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if closeUnder {
		c.under.Close()
	}
}

// wait waits for a Broadcast or the deadline dl; c.mu is held.
func (c *Conn) wait(dl time.Time) error {
	if dl.IsZero() {
		c.cond.Wait()
		return nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.AfterFunc(d, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	c.cond.Wait()
	t.Stop()
	return nil
}

// Read reads received data; every grantAt bytes read, the peer gets them
// back as credit.
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		// Like a net.Conn: nothing is read after Close, not even what
		// arrived before it. A proxy that closed a stream (a revoked
		// credential) must not pass on the peer's answer to the close.
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	for c.in.Len() == 0 {
		var err error
		switch {
		case c.closed:
			err = net.ErrClosed
		case c.rerr != nil:
			err = c.rerr
		case len(b) == 0:
		default:
			if err = c.wait(c.rdl); err == nil {
				continue
			}
		}
		c.mu.Unlock()
		return 0, err
	}
	n, _ := c.in.Read(b)
	if c.in.Len() == 0 && c.in.Cap() > keepBuffer {
		c.in = bytes.Buffer{}
	}
	c.owed += n
	grant := 0
	if c.owed >= grantAt {
		grant, c.owed = c.owed, 0
		c.allowed += grant
	}
	c.mu.Unlock()
	if grant > 0 {
		// A failed write means the stream is gone; the next Read or Write
		// reports it.
		h := header(typeGrant, grant)
		c.writeUnder(h[:])
	}
	return n, nil
}

// Write sends b as DATA frames, waiting for credit when it runs out.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for len(b) > 0 {
		c.mu.Lock()
		for c.credit == 0 || c.closed || c.rerr != nil {
			var err error
			switch {
			case c.closed:
				err = net.ErrClosed
			case c.rerr != nil:
				err = fmt.Errorf("flow: the stream ended: %w", c.rerr)
			default:
				if err = c.wait(c.wdl); err == nil {
					continue
				}
			}
			c.mu.Unlock()
			return n, err
		}
		k := min(len(b), c.credit, MaxData)
		c.credit -= k
		c.mu.Unlock()
		h := header(typeData, k)
		c.wbuf = append(append(c.wbuf[:0], h[:]...), b[:k]...)
		if _, err := c.writeUnder(c.wbuf); err != nil {
			c.mu.Lock()
			if c.closed {
				err = net.ErrClosed
			}
			c.mu.Unlock()
			return n, err
		}
		n += k
		b = b[k:]
	}
	return n, nil
}

// writeUnder writes one frame to under. remotedialer's Write can wait for
// good (a peer that paused the stream and never resumes): if the write
// deadline passes while it waits, under is closed, which ends the wait; a
// frame half sent has broken the stream anyway. (remotedialer's own write
// deadline is no help: it closes the stream when the deadline passes even
// after the write succeeded.)
func (c *Conn) writeUnder(frame []byte) (int, error) {
	c.mu.Lock()
	dl := c.wdl
	c.mu.Unlock()
	if dl.IsZero() {
		return c.under.Write(frame)
	}
	d := time.Until(dl)
	if d <= 0 {
		return 0, os.ErrDeadlineExceeded
	}
	t := time.AfterFunc(d, func() { c.under.Close() })
	n, err := c.under.Write(frame)
	if !t.Stop() && err != nil {
		err = os.ErrDeadlineExceeded
	}
	return n, err
}

func header(typ byte, n int) [headerLen]byte {
	return [headerLen]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}
}

// Close ends the stream; blocked Reads and Writes return net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return c.under.Close()
}

func (c *Conn) LocalAddr() net.Addr  { return c.under.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.under.RemoteAddr() }

func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// Bridge is the agent's end: it returns the connection remotedialer pipes
// the stream into, and copies the stream's data to and from raw (the
// apiserver connection), with flow control between them. When either side
// ends, both are closed.
func Bridge(raw net.Conn) net.Conn {
	near, far := net.Pipe()
	c := New(far)
	end := bridgeEnd{near}
	go func() {
		io.Copy(raw, c)
		raw.Close()
	}()
	go func() {
		io.Copy(c, raw)
		c.Close()
	}()
	return end
}

// bridgeEnd is the end of a Bridge that remotedialer pipes the stream
// into. Once the bridge has ended, what remotedialer still writes to it is
// dropped, not refused: a refused write would make remotedialer end the
// stream with an error at once, racing its other goroutine, which may still
// hold the last bytes the apiserver sent (as with a TCP socket, a write
// after the peer closed is not an error at first). remotedialer then reads
// the end of the stream and closes it as it should.
type bridgeEnd struct{ net.Conn }

func (e bridgeEnd) Write(b []byte) (int, error) {
	n, err := e.Conn.Write(b)
	if errors.Is(err, io.ErrClosedPipe) {
		return len(b), nil
	}
	return n, err
}
