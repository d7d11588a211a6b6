package authproxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tapped is a WebSocket connection between a gorilla server and a gorilla
// client whose bytes on the wire are recorded in both directions.
type tapped struct {
	server, client *websocket.Conn
	mu             sync.Mutex
	fromServer     bytes.Buffer // as the client read them
	fromClient     bytes.Buffer // as the client wrote them (masked)
}

type tapConn struct {
	net.Conn
	tp *tapped
}

func (c tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.tp.mu.Lock()
	c.tp.fromServer.Write(b[:n])
	c.tp.mu.Unlock()
	return n, err
}

func (c tapConn) Write(b []byte) (int, error) {
	c.tp.mu.Lock()
	c.tp.fromClient.Write(b)
	c.tp.mu.Unlock()
	return c.Conn.Write(b)
}

func newTapped(t *testing.T, writeBuffer int) *tapped {
	t.Helper()
	tp := &tapped{}
	got := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{WriteBufferSize: writeBuffer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		got <- c
	}))
	t.Cleanup(srv.Close)
	d := websocket.Dialer{WriteBufferSize: 1 << 18, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		return tapConn{Conn: c, tp: tp}, err
	}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tp.client, tp.server = c, <-got
	t.Cleanup(func() { c.Close(); tp.server.Close() })
	tp.mu.Lock()
	tp.fromServer.Reset() // the handshake
	tp.fromClient.Reset()
	tp.mu.Unlock()
	return tp
}

// headerLen is the RFC 6455 header length of a frame of n payload bytes.
func headerLen(n int, masked bool) int {
	h := 2
	switch {
	case n > 0xffff:
		h += 8
	case n > 125:
		h += 2
	}
	if masked {
		h += 4
	}
	return h
}

// boundaries feeds stream to a wsFrames one byte at a time and returns the
// offsets at which it says a frame starts.
func boundaries(stream []byte) ([]int, wsFrames) {
	var f wsFrames
	var at []int
	for i, b := range stream {
		if f.atBoundary() {
			at = append(at, i)
		}
		f.feed([]byte{b})
	}
	if f.atBoundary() {
		at = append(at, len(stream))
	}
	return at, f
}

// TestWSFrames: messages written by gorilla/websocket, in both directions
// (the client's masked), of every length class: the reader finds exactly
// the frame starts an RFC 6455 length count gives, and a close frame only
// once it has passed whole.
func TestWSFrames(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 1000, 0xffff, 0x10000, 70000}
	tp := newTapped(t, 0)
	read := func(c *websocket.Conn) {
		for range sizes {
			if _, _, err := c.ReadMessage(); err != nil {
				t.Error(err)
			}
		}
	}
	for _, dir := range []struct {
		name   string
		w, r   *websocket.Conn
		masked bool
		wire   *bytes.Buffer
	}{
		{"server to client", tp.server, tp.client, false, &tp.fromServer},
		{"client to server", tp.client, tp.server, true, &tp.fromClient},
	} {
		t.Run(dir.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() { read(dir.r); close(done) }()
			want := []int{0}
			for _, n := range sizes {
				if err := dir.w.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte{'x'}, n)); err != nil {
					t.Fatal(err)
				}
				want = append(want, want[len(want)-1]+headerLen(n, dir.masked)+n)
			}
			<-done
			tp.mu.Lock()
			stream := append([]byte(nil), dir.wire.Bytes()...)
			tp.mu.Unlock()
			got, f := boundaries(stream)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("frame starts (-want +got):\n%s", diff)
			}
			if f.closed || f.open || f.invalid {
				t.Errorf("after data frames: closed %v open %v invalid %v", f.closed, f.open, f.invalid)
			}
		})
	}

	t.Run("close frame", func(t *testing.T) {
		tp := newTapped(t, 0)
		if err := tp.server.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tp.client.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("client read %v", err)
		}
		stream := tp.fromServer.Bytes()
		var f wsFrames
		f.feed(stream[:len(stream)-1])
		if f.closed {
			t.Error("closed before the close frame's last byte")
		}
		f.feed(stream[len(stream)-1:])
		if !f.closed || !f.atBoundary() {
			t.Errorf("after the close frame: closed %v boundary %v", f.closed, f.atBoundary())
		}
	})
}

// TestWSFramesFragmented: a message gorilla writes in several frames (a
// small write buffer) with pings between them is open until its final
// frame and closed after; a data frame inside it would break the protocol.
func TestWSFramesFragmented(t *testing.T) {
	tp := newTapped(t, 64)
	done := make(chan error, 1)
	go func() {
		_, msg, err := tp.client.ReadMessage()
		if err == nil && len(msg) != 1000 {
			err = fmt.Errorf("message of %d bytes", len(msg))
		}
		done <- err
	}()
	w, err := tp.server.NextWriter(websocket.BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		w.Write(bytes.Repeat([]byte{byte(i)}, 100))
		tp.server.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
	}
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stream := tp.fromServer.Bytes()
	var f wsFrames
	sawOpen := false
	for _, b := range stream {
		f.feed([]byte{b})
		sawOpen = sawOpen || (f.open && f.atBoundary())
	}
	if !sawOpen || f.open || !f.atBoundary() || f.invalid {
		t.Errorf("open between fragments %v; at the end: open %v boundary %v invalid %v", sawOpen, f.open, f.atBoundary(), f.invalid)
	}
}

// TestFarewell: what the proxy adds to a stream, read by gorilla/websocket
// as client-go reads it: for every channel protocol the error channel
// carries the Status (v4+) or its message, then a normal close; in a
// fragmented message, and for any other protocol, a close with the reason.
func TestFarewell(t *testing.T) {
	status := metav1.Status{Code: 503, Reason: metav1.StatusReasonServiceUnavailable, Message: strings.Repeat("lost ", 40)}
	statusJSON := func() string {
		st := status
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		st.Status = metav1.StatusFailure
		b, _ := json.Marshal(st)
		return string(b)
	}()
	b64 := base64.StdEncoding.EncodeToString
	reason := status.Message[:123]
	for _, c := range []struct {
		proto     string
		open      bool
		wantType  int
		wantData  string // the error channel's message; "" for none
		wantClose int
		wantText  string
	}{
		{"v5.channel.k8s.io", false, websocket.BinaryMessage, "\x03" + statusJSON, websocket.CloseNormalClosure, ""},
		{"v4.channel.k8s.io", false, websocket.BinaryMessage, "\x03" + statusJSON, websocket.CloseNormalClosure, ""},
		{"v4.base64.channel.k8s.io", false, websocket.TextMessage, "3" + b64([]byte(statusJSON)), websocket.CloseNormalClosure, ""},
		{"channel.k8s.io", false, websocket.BinaryMessage, "\x03" + status.Message, websocket.CloseNormalClosure, ""},
		{"v3.channel.k8s.io", false, websocket.BinaryMessage, "\x03" + status.Message, websocket.CloseNormalClosure, ""},
		{"base64.channel.k8s.io", false, websocket.TextMessage, "3" + b64([]byte(status.Message)), websocket.CloseNormalClosure, ""},
		{"v5.channel.k8s.io", true, 0, "", websocket.CloseInternalServerErr, reason},
		{"SPDY/3.1+portforward.k8s.io", false, 0, "", websocket.CloseInternalServerErr, reason},
		{"portforward.k8s.io", false, 0, "", websocket.CloseInternalServerErr, reason},
		{"", false, 0, "", websocket.CloseInternalServerErr, reason},
	} {
		t.Run(fmt.Sprintf("%s open=%v", c.proto, c.open), func(t *testing.T) {
			st := status
			raw := farewell(c.proto, true, &wsFrames{open: c.open}, &st)
			var f wsFrames
			f.feed(raw)
			if !f.closed || !f.atBoundary() || f.open {
				t.Errorf("our own frames: closed %v boundary %v open %v", f.closed, f.atBoundary(), f.open)
			}
			conn := rawServer(t, raw)
			if c.wantData != "" {
				typ, msg, err := conn.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if typ != c.wantType || string(msg) != c.wantData {
					t.Errorf("message: type %d %q, want type %d %q", typ, msg, c.wantType, c.wantData)
				}
			}
			_, _, err := conn.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("then %v, want a close", err)
			}
			if ce.Code != c.wantClose || ce.Text != c.wantText {
				t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, c.wantClose, c.wantText)
			}
		})
	}
}

// rawServer returns a gorilla client connected to a server that answers the
// handshake and then writes raw.
func rawServer(t *testing.T, raw []byte) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.NetConn().Write(raw) // past gorilla's writer: the bytes as they are
		io.Copy(io.Discard, c.NetConn())
	}))
	t.Cleanup(srv.Close)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// FuzzWSFrames: however a stream is cut into reads, or followed frame by
// frame, the reader ends in the same state; a stream of frames written by wsFrame ends on a boundary.
func FuzzWSFrames(f *testing.F) {
	f.Add([]byte{0x82, 0x03, 1, 2, 3, 0x88, 0x02, 0x03, 0xe8}, uint64(1))
	f.Add(wsFrame(opBinary, bytes.Repeat([]byte{1}, 300)), uint64(7))
	f.Add([]byte{0x02, 0x81, 1, 2, 3, 4, 9, 0x89, 0, 0x80, 0}, uint64(3))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		var whole wsFrames
		whole.feed(stream)
		var cut wsFrames
		rng := rand.New(rand.NewPCG(seed, seed))
		for rest := stream; len(rest) > 0; {
			n := 1 + rng.IntN(len(rest))
			cut.feed(rest[:n])
			rest = rest[n:]
		}
		if whole != cut {
			t.Fatalf("whole %+v, cut %+v", whole, cut)
		}
		// Finishing frame by frame follows the same bytes: each call
		// stops at a boundary, or takes all when the frame goes on.
		var byFrame wsFrames
		for rest := stream; len(rest) > 0; {
			n := byFrame.finish(rest)
			if n < len(rest) && !byFrame.atBoundary() {
				t.Fatalf("finish stopped at %d of %d off a boundary: %+v", n, len(rest), byFrame)
			}
			if n == 0 {
				byFrame.feed(rest[:1]) // at a boundary: start the next frame
				n = 1
			}
			rest = rest[n:]
		}
		if whole != byFrame {
			t.Fatalf("whole %+v, frame by frame %+v", whole, byFrame)
		}
		if len(stream) > 0 {
			var own wsFrames
			own.feed(wsFrame(opBinary, stream))
			own.feed(wsFrame(opText, stream[:len(stream)/2]))
			if !own.atBoundary() || own.open || own.closed {
				t.Fatalf("after our own frames: %+v", own)
			}
		}
	})
}

// TestFarewellAfterStatusOrForPorts: once the apiserver's own Status went
// by on the error channel, the proxy adds only a normal close, so the
// client reads the apiserver's (an exit code, say); on a port-forward in a
// channel protocol, whose channel 3 is a port's, it adds only a close with
// the reason, never a Status.
func TestFarewellAfterStatusOrForPorts(t *testing.T) {
	status := metav1.Status{Code: 503, Message: "lost"}
	for _, c := range []struct {
		name     string
		seen     []byte // the apiserver's frames so far
		channel  bool
		wantSeen bool
		want     []byte
	}{
		{"exec, stdout only", wsFrame(opBinary, []byte("\x01out")), true, false, nil},
		{"exec, Status sent", append(wsFrame(opBinary, []byte("\x01out")), wsFrame(opBinary, []byte("\x03{}"))...), true, true, wsClose(closeNormal, "")},
		{"exec base64, Status sent", wsFrame(opText, []byte("3e30=")), true, true, wsClose(closeNormal, "")},
		{"exec, empty frame then stdout", append(wsFrame(opBinary, nil), wsFrame(opBinary, []byte("\x01x"))...), true, false, nil},
		{"port-forward", wsFrame(opBinary, []byte("\x03\x50\x1f")), false, true, wsClose(closeInternal, "lost")},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f wsFrames
			f.feed(c.seen)
			if f.errorSeen != c.wantSeen {
				t.Errorf("error channel seen %v, want %v", f.errorSeen, c.wantSeen)
			}
			st := status
			got := farewell("v5.channel.k8s.io", c.channel, &f, &st)
			if c.want == nil {
				if len(got) == 0 || got[0] != 0x80|opBinary || got[2] != errorChannel {
					t.Errorf("farewell % x, want a Status on the error channel first", got)
				}
				return
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("farewell % x, want % x", got, c.want)
			}
		})
	}
}
