package tunnel

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/flow"
)

// syncConnectionsMessage is remotedialer's SyncConnections message (type 8)
// listing no stream at all, as its agent would send it: varint message id,
// stream id 0, type, then the ids (none).
func syncConnectionsMessage() []byte {
	b := binary.AppendVarint(nil, 1)
	b = binary.AppendVarint(b, 0)
	return binary.AppendVarint(b, 8)
}

// TestStreamCutBySyncIsDialedAgain: the agent's list of its streams is on
// its way while the server opens a new one; the server closes that stream
// when the list arrives. The request on it, a write, is still answered, and
// the apiserver sees it once.
func TestStreamCutBySyncIsDialedAgain(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	ws := f.inProcessAgent(reg, f.params(agentapi.KindCluster, "", "sa-1"))
	f.waitLive("c-alpha", 1)
	sess, _ := f.tun.Session("c-alpha")
	ws.held.Store(true)

	done := make(chan error, 1)
	var body string
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sess.BaseURL()+"/api/v1/namespaces", strings.NewReader(`{"kind":"Namespace"}`))
		resp, err := sess.Transport(false).RoundTrip(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("POST through a stream the connection sync cut: %v", err)
	}
	if body != "backend saw /api/v1/namespaces" {
		t.Errorf("body %q", body)
	}
	if n := len(f.backend.requests()); n != 1 {
		t.Errorf("the apiserver got the POST %d times, want once", n)
	}
	if n := ws.connects.Load(); n < 2 {
		t.Errorf("the agent saw %d stream connects; want the cut one and the one dialed again", n)
	}
}

// heldAgent is an in-process remotedialer agent that, once held is set,
// sends a SyncConnections message that cannot name the next stream the
// server opens, ahead of anything on that stream: what a real agent's
// periodic sync does when it crosses a new stream.
type heldAgent struct {
	held     atomic.Bool
	connects atomic.Int32
}

func (f *fixture) inProcessAgent(reg string, p agentapi.AgentParams) *heldAgent {
	f.t.Helper()
	enc, err := p.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+reg)
	h.Set(agentapi.ParamsHeader, enc)
	ctx, cancel := context.WithCancel(context.Background())
	ws, _, err := f.wsDialer().DialContext(ctx, f.wsURL(), h)
	if err != nil {
		f.t.Fatal(err)
	}
	a := &heldAgent{}
	// auth runs on the session's reader, before the stream exists: the
	// list written here goes out ahead of the stream's first byte.
	// remotedialer's own writes are idle then (pings are control frames,
	// which may go concurrently).
	auth := func(proto, _ string) bool {
		a.connects.Add(1)
		if a.held.CompareAndSwap(true, false) {
			if err := ws.WriteMessage(websocket.BinaryMessage, syncConnectionsMessage()); err != nil {
				f.t.Error(err)
			}
		}
		return proto == agentapi.NetworkTCP || proto == agentapi.NetworkFlow
	}
	local := func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil || network != agentapi.NetworkFlow {
			return c, err
		}
		return flow.Bridge(c), nil
	}
	sess := remotedialer.NewClientSessionWithDialer(auth, ws, local)
	served := make(chan struct{})
	go func() { sess.Serve(ctx); close(served) }()
	f.t.Cleanup(func() {
		cancel()
		ws.Close()
		<-served
		sess.Close()
	})
	return a
}
