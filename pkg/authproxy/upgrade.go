package authproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An upgraded stream (exec, attach, port-forward) cannot be resumed: the
// process or the connection it carries is on the far side of the tunnel
// that failed. What the proxy can do is say so in the protocol the client
// speaks, instead of a connection that just drops (which kubectl shows as
// "close 1006 (abnormal closure)", and after which an exec whose error
// channel stayed empty even exits 0). For WebSocket streams, the proxy
// follows the apiserver's frames (wsFrames); when the stream ends without
// the apiserver's close frame, or the proxy ends it (revocation, access
// removed), it adds a farewell: an error-channel Status and a close frame
// for exec and attach, a close frame with the reason for the others. SPDY
// streams end as they did: their framing is not followed.

// errStreamLost ends the copy from a backend whose stream was lost after
// the farewell was handed on.
var errStreamLost = errors.New("the upgraded stream lost its backend connection")

// writeWait bounds how long a failed write to the backend waits for the
// reading side to hand the farewell on before it ends the copy.
const writeWait = 2 * time.Second

// upgradedConn is the backend side of an upgraded WebSocket connection, as
// ReverseProxy copies it to the client.
type upgradedConn struct {
	io.ReadWriteCloser
	ctx     context.Context
	proxy   *Proxy
	t       *target
	proto   string // the subprotocol the apiserver chose
	frames  wsFrames
	pending error  // the end the next Read reports after n > 0
	tail    []byte // the farewell still to hand on
	ended   bool
	done    chan struct{} // closed when Read has handed everything on

	mu       sync.Mutex
	closedBy bool // Close was called (by ReverseProxy): the proxy ended it
}

// wrapUpgrade returns resp with its connection followed, for a WebSocket
// upgrade the apiserver accepted; any other response is returned as is.
func (p *Proxy) wrapUpgrade(req *http.Request, resp *http.Response, t *target) *http.Response {
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok || !strings.EqualFold(t.upgrade, "websocket") {
		return resp
	}
	resp.Body = &upgradedConn{
		ReadWriteCloser: rwc, ctx: req.Context(), proxy: p, t: t,
		proto: resp.Header.Get("Sec-WebSocket-Protocol"), done: make(chan struct{}),
	}
	return resp
}

func (c *upgradedConn) Read(b []byte) (int, error) {
	if c.ended {
		return c.handOn(b)
	}
	n, err := c.ReadWriteCloser.Read(b)
	if cause := context.Cause(c.ctx); isProxyEnd(cause) {
		// The proxy ended the stream: only the frame in progress is handed
		// on, then the farewell. What the apiserver sends from here on is
		// not: among it may be its close frame in answer to the proxy
		// closing the connection, which would leave the client without
		// the reason (and an exec that exits 0).
		n = c.frames.finish(b[:n])
		if err == nil && c.frames.atBoundary() {
			err = cause
		}
	} else {
		c.frames.feed(b[:n])
	}
	if err == nil {
		return n, nil
	}
	c.ended = true
	c.tail = c.farewell(err)
	if c.tail == nil {
		c.pending = err
	} else {
		c.pending = errStreamLost
	}
	if n > 0 {
		return n, nil
	}
	return c.handOn(b)
}

// handOn returns what is left of the farewell, then the end.
func (c *upgradedConn) handOn(b []byte) (int, error) {
	if len(c.tail) > 0 {
		n := copy(b, c.tail)
		c.tail = c.tail[n:]
		return n, nil
	}
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	return 0, c.pending
}

// farewell decides, once the backend stream ended with err, what the
// client is told; nil when the stream ended as the apiserver meant it to,
// or when nothing can be added without breaking the framing.
func (c *upgradedConn) farewell(err error) []byte {
	c.mu.Lock()
	closedBy := c.closedBy
	c.mu.Unlock()
	status, ended := causeStatus(context.Cause(c.ctx))
	switch {
	case c.frames.closed:
		return nil // the apiserver closed it: its own status went first
	case closedBy && !ended:
		return nil // the client went away: nobody to tell
	case !ended:
		what := c.t.subresource
		if what == "" {
			what = "stream"
		}
		status = metav1.Status{Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
			Message: fmt.Sprintf("lost the connection to cluster %q; %s cannot resume, run it again", c.t.session.ClusterID, what)}
	}
	fits := c.frames.atBoundary()
	c.proxy.opts.Logger.Info("upgraded stream ended before the apiserver closed it",
		"cluster", c.t.session.ClusterID, "subresource", c.t.subresource, "protocol", c.proto,
		"reason", status.Reason, "client_told", fits, "err", err)
	if !fits {
		return nil // in the middle of a frame: nothing can follow it
	}
	channel := c.t.subresource == "exec" || c.t.subresource == "attach"
	return farewell(c.proto, channel, &c.frames, &status)
}

// Write passes b to the backend. When that fails (the tunnel went), it
// gives the reading side a moment to hand the farewell on first: ending
// the copy closes the client's connection.
func (c *upgradedConn) Write(b []byte) (int, error) {
	n, err := c.ReadWriteCloser.Write(b)
	if err != nil {
		select {
		case <-c.done:
		case <-time.After(writeWait):
		}
	}
	return n, err
}

func (c *upgradedConn) Close() error {
	c.mu.Lock()
	c.closedBy = true
	c.mu.Unlock()
	return c.ReadWriteCloser.Close()
}
