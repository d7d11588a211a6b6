package tunnel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// maskedFrame is a frame as an agent sends it (masked; the payload is not
// needed to follow the framing, zeros stand in).
func maskedFrame(fin bool, opcode byte, n int) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 1, 2, 3, 4) // masking key
	return append(b, make([]byte, n)...)
}

func TestMessageLimit(t *testing.T) {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	for _, c := range []struct {
		name   string
		stream []byte
		ok     bool
	}{
		{"small messages", cat(maskedFrame(true, 2, 100), maskedFrame(true, 2, 32<<10), maskedFrame(true, 9, 0)), true},
		{"a message of the limit", maskedFrame(true, 2, maxMessage), true},
		{"many messages summing past the limit", bytes.Repeat(maskedFrame(true, 2, 512<<10), 4), true},
		{"fragments up to the limit", cat(maskedFrame(false, 2, maxMessage/2), maskedFrame(true, 0, maxMessage/2)), true},
		{"pings between fragments", cat(maskedFrame(false, 2, maxMessage/2), maskedFrame(true, 9, 10), maskedFrame(true, 0, maxMessage/2)), true},
		{"one frame past the limit", maskedFrame(true, 2, maxMessage+1), false},
		{"fragments past the limit", cat(maskedFrame(false, 2, maxMessage/2), maskedFrame(false, 0, maxMessage/2), maskedFrame(true, 0, 1)), false},
		{"a 64-bit length", []byte{0x82, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, chunk := range []int{3, 4096, len(c.stream)} {
				a, b := net.Pipe()
				go func() { b.Write(c.stream); b.Close() }()
				m := &messageLimit{Conn: a}
				buf := make([]byte, chunk)
				var err error
				for err == nil {
					_, err = m.Read(buf)
				}
				a.Close()
				if got := !errors.Is(err, errMessageTooLarge); got != c.ok {
					t.Fatalf("read in pieces of %d: %v; want a refusal: %v", chunk, err, !c.ok)
				}
			}
		})
	}
}

func FuzzMessageLimit(f *testing.F) {
	f.Add(maskedFrame(true, 2, 10))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 1})
	f.Fuzz(func(t *testing.T, stream []byte) {
		m := &messageLimit{Conn: nil}
		m.follow(stream) // must not panic, whatever the bytes
		if m.hn >= len(m.hdr) {
			t.Fatalf("header state %d bytes", m.hn)
		}
	})
}

// TestAgentCannotHoldServerMemory: a compromised agent (a valid
// registration token) answers the first stream the server opens with one
// remotedialer Data message it never ends. remotedialer copies a whole
// message into the stream's buffer before anything reads it, so without a
// bound the server would hold all of it (found by a red-team review: 128
// MiB more after 96 MiB sent). The server ends that tunnel at maxMessage.
func TestAgentCannotHoldServerMemory(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	enc, err := f.params(agentapi.KindCluster, "", "sa-1").Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+reg)
	h.Set(agentapi.ParamsHeader, enc)
	ws, _, err := f.wsDialer().DialContext(context.Background(), f.wsURL(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	f.waitLive("c-alpha", 1)
	sess, _ := f.tun.Session("c-alpha")

	before := heapMiB()
	stream, _, err := sess.dialStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	// The server's Connect names the stream.
	var connID int64
	for connID == 0 {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var vs [3]int64
		for i := range vs {
			v, n := binary.Varint(msg)
			vs[i], msg = v, msg[n:]
		}
		if vs[2] == 2 { // Connect
			connID = vs[1]
		}
	}
	w, err := ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.AppendVarint(nil, 1)
	hdr = binary.AppendVarint(hdr, connID)
	hdr = binary.AppendVarint(hdr, 1)     // Data
	hdr = binary.AppendVarint(hdr, 15000) // remotedialer's legacy deadline field
	w.Write(hdr)
	const sent = 96
	chunk := make([]byte, 64<<10)
	var werr error
	for i := 0; i < sent<<4 && werr == nil; i++ {
		_, werr = w.Write(chunk)
	}
	if werr == nil {
		t.Fatalf("the server took %d MiB in one message", sent)
	}
	if grew := heapMiB() - before; grew > 8 {
		t.Errorf("the server holds %d MiB more after the agent sent one endless message", grew)
	}
	f.waitLive("c-alpha", 0)
	if _, err := io.ReadAll(stream); err == nil {
		t.Error("the stream of the closed tunnel ended without an error")
	}
}

// heapMiB is the live heap, after a collection.
func heapMiB() int {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapAlloc >> 20)
}
