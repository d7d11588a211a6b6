package flow

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
	"github.com/sirupsen/logrus"
)

// tunnel is a real remotedialer server and client session on loopback;
// dial opens a stream from the server to addr through the client, which
// dials it with local.
func tunnel(t *testing.T, local remotedialer.Dialer) remotedialer.Dialer {
	t.Helper()
	dial, _ := tunnelWS(t, local)
	return dial
}

// tunnelWS is tunnel that also returns the agent's websocket, to write
// messages a compromised agent would send.
func tunnelWS(t *testing.T, local remotedialer.Dialer) (remotedialer.Dialer, *websocket.Conn) {
	t.Helper()
	logrus.SetOutput(io.Discard)
	rd := remotedialer.New(func(*http.Request) (string, bool, error) { return "agent", true, nil }, remotedialer.DefaultErrorWriter)
	srv := httptest.NewServer(rd)
	ctx, cancel := context.WithCancel(context.Background())
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sess := remotedialer.NewClientSessionWithDialer(func(string, string) bool { return true }, ws, local)
	served := make(chan struct{})
	go func() { sess.Serve(ctx); close(served) }()
	t.Cleanup(func() {
		cancel()
		ws.Close()
		<-served
		sess.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	deadline := time.Now().Add(waitTimeout)
	for !rd.HasSession("agent") {
		if time.Now().After(deadline) {
			t.Fatal("the agent never connected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return rd.Dialer("agent"), ws
}

// farEnd listens on loopback; each connection reads everything and writes
// n bytes at once. Its connections are closed when the test ends.
func farEnd(t *testing.T, n int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
			go c.Write(make([]byte, n))
		}
	}()
	return ln.Addr().String()
}

// bothWays is what a port-forward does: the server's end gets 8 MiB while
// it is busy, writes 1 MiB, then reads. It reports whether both finished
// within wait.
func bothWays(t *testing.T, c net.Conn, wait time.Duration) error {
	return bothWaysAfter(t, c, time.Second, wait)
}

// bothWaysAfter is bothWays with the time the 8 MiB get to pile up.
func bothWaysAfter(t *testing.T, c net.Conn, pile, wait time.Duration) error {
	const n = 8 << 20
	time.Sleep(pile) // the 8 MiB pile up in the server's buffers
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 1<<20)); wrote <- err }()
	time.Sleep(200 * time.Millisecond) // the write waits, if it must
	read := make(chan error, 1)
	go func() { _, err := io.CopyN(io.Discard, c, n); read <- err }()
	for _, ch := range []chan error{read, wrote} {
		select {
		case err := <-ch:
			if err != nil {
				return err
			}
		case <-time.After(wait):
			return errors.New("stalled")
		}
	}
	return nil
}

// TestRemotedialerPause shows the defect this package exists for, on
// remotedialer alone: the end whose read buffer filled pauses its own
// writer, and the resume that follows does not wake it. If this test fails,
// the library was fixed; Drover could then drop its own flow control.
// The stall needs the data to have piled up first, which a loaded machine
// can delay: the test tries three times, giving the pile-up longer each
// time, and fails only if no stream ever stalled.
func TestRemotedialerPause(t *testing.T) {
	dial := tunnel(t, nil)
	far := farEnd(t, 8<<20)
	var errs []error
	for pile := time.Second; pile <= 4*time.Second; pile *= 2 {
		c, err := dial(context.Background(), "tcp", far)
		if err != nil {
			t.Fatal(err)
		}
		err = bothWaysAfter(t, c, pile, 3*time.Second)
		c.Close()
		if err != nil && err.Error() == "stalled" {
			return
		}
		errs = append(errs, err)
	}
	t.Fatalf("plain remotedialer streams moving data both ways: %v; want one stalled (the library's defect)", errs)
}

// TestThroughRemotedialer: the same traffic with New on the server's end and
// Bridge on the agent's goes through.
func TestThroughRemotedialer(t *testing.T) {
	dial := tunnel(t, func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return Bridge(raw), nil
	})
	under, err := dial(context.Background(), "tcp", farEnd(t, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	c := New(under)
	defer c.Close()
	if err := bothWays(t, c, waitTimeout); err != nil {
		t.Fatalf("a flow-controlled stream moving data both ways: %v", err)
	}
}
