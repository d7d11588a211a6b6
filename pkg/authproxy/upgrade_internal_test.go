package authproxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/tunnel"
)

// scriptedConn is a backend connection whose reads return chunks in
// order, running each chunk's before hook first (where the test ends the
// request), then errStreamGone.
type scriptedConn struct {
	chunks []chunk
}

type chunk struct {
	before func()
	data   []byte
}

var errStreamGone = errors.New("use of closed network connection")

func (s *scriptedConn) Read(b []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, errStreamGone
	}
	c := &s.chunks[0]
	if c.before != nil {
		c.before()
		c.before = nil
	}
	n := copy(b, c.data)
	c.data = c.data[n:]
	if len(c.data) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

func (s *scriptedConn) Write(b []byte) (int, error) { return len(b), nil }
func (s *scriptedConn) Close() error                { return nil }

// TestUpgradedConnProxyEnd: once the proxy ends an exec (here a revoked
// token), the client gets the frame in progress, then the reason on the
// error channel and a close; what the apiserver sends afterwards (its
// close frame answering the proxy's close, which kubectl would take for
// a normal end and exit 0) is not handed on. Without an end of the
// proxy's own, the apiserver's frames pass unchanged.
func TestUpgradedConnProxyEnd(t *testing.T) {
	stdout := wsFrame(opBinary, append([]byte{1}, "hello\n"...))
	more := wsFrame(opBinary, append([]byte{1}, "more\n"...))
	apiClose := wsFrame(opClose, binary.BigEndian.AppendUint16(nil, closeNormal))
	revoked := metav1.Status{Code: 401, Reason: metav1.StatusReasonUnauthorized, Message: errRevoked.Error()}
	bye := farewell("v5.channel.k8s.io", true, &wsFrames{}, &revoked)
	for _, tc := range []struct {
		name   string
		chunks func(end func()) []chunk
		want   []byte
	}{
		{"close frame after the end", func(end func()) []chunk {
			return []chunk{{data: stdout}, {before: end, data: apiClose}}
		}, cat(stdout, bye)},
		{"frame in progress finishes, what follows is dropped", func(end func()) []chunk {
			return []chunk{{data: stdout[:3]}, {before: end, data: cat(stdout[3:], more, apiClose)}}
		}, cat(stdout, bye)},
		{"frame in progress across reads", func(end func()) []chunk {
			return []chunk{{data: stdout[:3]}, {before: end, data: stdout[3:5]}, {data: cat(stdout[5:], apiClose)}}
		}, cat(stdout, bye)},
		{"data after the end", func(end func()) []chunk {
			return []chunk{{data: stdout}, {before: end, data: more}}
		}, cat(stdout, bye)},
		{"the apiserver's own end passes unchanged", func(func()) []chunk {
			return []chunk{{data: stdout}, {data: apiClose}}
		}, cat(stdout, apiClose)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			p := &Proxy{opts: Options{Logger: slog.New(slog.DiscardHandler)}}
			c := &upgradedConn{
				ReadWriteCloser: &scriptedConn{chunks: tc.chunks(func() { cancel(errRevoked) })},
				ctx:             ctx, proxy: p, proto: "v5.channel.k8s.io", done: make(chan struct{}),
				t: &target{session: &tunnel.Session{ClusterID: "c-x"}, subresource: "exec", upgrade: "websocket"},
			}
			got, err := io.ReadAll(c)
			if err == nil {
				t.Error("the stream ended without an error")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("the client got (-want +got):\n%s", diff)
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
