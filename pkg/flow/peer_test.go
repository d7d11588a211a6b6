package flow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/drover-dev/drover/pkg/pki"
)

// gatedConn is a connection whose writes wait until open is closed or the
// connection is: what remotedialer's connection.Write does while its peer
// has paused it (its Close wakes the writer).
type gatedConn struct {
	net.Conn
	open   chan struct{}
	once   sync.Once
	closed chan struct{}
}

func (g *gatedConn) Write(b []byte) (int, error) {
	select {
	case <-g.open:
		return g.Conn.Write(b)
	case <-g.closed:
		return 0, net.ErrClosed
	}
}

func (g *gatedConn) Close() error {
	g.once.Do(func() { close(g.closed) })
	return g.Conn.Close()
}

// TestWriteDeadlineEndsAFrameWrite: a write deadline ends a Write however
// it waits (net.Conn's contract), also while the tunnel's connection holds
// the frame (found by a red-team review: it used to end only a wait for
// credit).
func TestWriteDeadlineEndsAFrameWrite(t *testing.T) {
	a, b := net.Pipe()
	g := &gatedConn{Conn: a, open: make(chan struct{}), closed: make(chan struct{})}
	c := New(g)
	go io.Copy(io.Discard, b)
	defer func() { close(g.open); c.Close(); b.Close() }()

	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("x")); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write: %v, want a deadline error", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Write still blocked 2s after its deadline (the tunnel's connection does not take the frame)")
	}
}

// control is a remotedialer message without a body (Pause 6, Resume 7).
func control(typ, connID int64) []byte {
	b := binary.AppendVarint(nil, 1)
	b = binary.AppendVarint(b, connID)
	return binary.AppendVarint(b, typ)
}

// selfSigned is a serving certificate for the name apiserver and the pool
// of its CA (pkg/pki, which every certificate of the project comes from).
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	g, err := pki.Generate([]string{"apiserver"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(g.Cert, g.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(g.CACert)
	return cert, pool
}

// TestPausedStreamStillCloses: a compromised agent sends one Pause
// for a stream whose TLS handshake is done. The server then closes the
// connection (a cancelled request: http.Transport calls tls.Conn.Close with
// the persistConn's mutex held). tls.Conn.Close writes close_notify under a
// 5s write deadline. On a plain remotedialer stream the deadline closes the
// stream and Close returns; a flow stream must do the same (its deadline
// once never reached the frame write blocked in remotedialer, so Close never
// returned, not even once the tunnel was gone, and the request's goroutines
// leaked for good).
func TestPausedStreamStillCloses(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, network := range []string{"tcp", "tcp+flow"} {
		t.Run(network, func(t *testing.T) {
			var wg sync.WaitGroup
			t.Cleanup(wg.Wait) // after the tunnel's cleanup, which ends the apiserver's pipe
			local := func(ctx context.Context, _, _ string) (net.Conn, error) {
				raw, apiserver := net.Pipe()
				wg.Add(1)
				go func() {
					defer wg.Done()
					ts := tls.Server(apiserver, &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true})
					io.Copy(io.Discard, ts)
					ts.Close()
				}()
				if network == "tcp+flow" {
					return Bridge(raw), nil
				}
				return raw, nil
			}
			dial, ws := tunnelWS(t, local)
			under, err := dial(context.Background(), "tcp", "apiserver:443")
			if err != nil {
				t.Fatal(err)
			}
			var c net.Conn = under
			if network == "tcp+flow" {
				c = New(under)
			}
			tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "apiserver"})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the agent's side is idle now
			for id := int64(1); id <= 8; id++ {
				if err := ws.WriteMessage(websocket.BinaryMessage, control(6, id)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(100 * time.Millisecond) // the server has read the pauses
			closed := make(chan error, 1)
			go func() { closed <- tc.Close() }()
			select {
			case <-closed:
			case <-time.After(8 * time.Second):
				t.Errorf("tls.Conn.Close of a %s stream the agent paused still blocked after 8s (close_notify's deadline is 5s)", network)
				ws.Close() // the agent goes away
				select {
				case <-closed:
				case <-time.After(time.Second):
					t.Errorf("and still blocked after the agent's tunnel closed")
				}
				c.Close() // only the stream's own Close, which tls never reaches, lets it go
				<-closed
			}
		})
	}
}

// TestBridgeKeepsTheLastBytes: the apiserver writes its last bytes and
// closes while the server is still sending (a port-forward's upload, an
// exec's stdin, or only credit). Every byte the apiserver wrote must reach
// the server, then EOF. (When Bridge refused remotedialer's writes once it
// had ended, the remotedialer goroutine writing the server's bytes failed
// and closed the stream, racing the goroutine that still held the
// apiserver's last frame: the server got "io: read/write on closed pipe"
// instead of EOF, sometimes without the last frame. Over TCP, protocol 2, a
// write after the peer's FIN succeeds, so the library's pipe does not race
// there.) It races: a defect shows in some of the 200 streams.
func TestBridgeKeepsTheLastBytes(t *testing.T) {
	const n = 100 << 10
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	dial := tunnel(t, func(ctx context.Context, _, _ string) (net.Conn, error) {
		raw, apiserver := net.Pipe()
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(io.Discard, apiserver) }()
		go func() { defer wg.Done(); apiserver.Write(make([]byte, n)); apiserver.Close() }()
		return Bridge(raw), nil
	})
	lost, short := 0, 0
	const runs = 200
	for range runs {
		under, err := dial(context.Background(), "tcp", "apiserver:443")
		if err != nil {
			t.Fatal(err)
		}
		c := New(under)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, 1024)
			for {
				if _, err := c.Write(b); err != nil {
					return
				}
			}
		}()
		got, err := io.ReadAll(c)
		if err != nil || len(got) != n {
			lost++
			if len(got) != n {
				short++
				if short == 1 {
					t.Logf("first short stream: %d of %d bytes, then %v", len(got), n, err)
				}
			}
			if lost == 1 {
				t.Logf("first loss: %d of %d bytes, then %v", len(got), n, err)
			}
		}
		c.Close()
	}
	if lost > 0 {
		t.Errorf("%d of %d streams did not end in EOF after the apiserver's bytes; %d of them lost bytes", lost, runs, short)
	}
}
