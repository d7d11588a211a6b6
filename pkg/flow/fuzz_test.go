package flow

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzFrames feeds a Conn whatever a peer might send: it never panics,
// never holds more than Window bytes, and hands on exactly the payload of
// the well-formed DATA frames before the stream ends.
func FuzzFrames(f *testing.F) {
	data := func(p string) []byte { h := header(typeData, len(p)); return append(h[:], p...) }
	grant := func(n int) []byte { h := header(typeGrant, n); return h[:] }
	f.Add(data("hello"))
	f.Add(append(data("a"), grant(1)...))
	f.Add([]byte{typeData, 0, 0, 9, 'x'})
	f.Add([]byte{7, 0, 0, 0})
	f.Add(bytes.Repeat(data(string(make([]byte, 1000))), 3))
	f.Fuzz(func(t *testing.T, sent []byte) {
		a, b := net.Pipe()
		c := New(a)
		defer c.Close()
		go func() {
			b.Write(sent)
			b.Close()
		}()
		go io.Copy(io.Discard, b) // the credit c returns as it is read
		var got []byte
		done := make(chan struct{})
		go func() { got, _ = io.ReadAll(c); close(done) }()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatalf("hang on %x", sent)
		}
		want := wellFormed(sent)
		if !bytes.HasPrefix(want, got) || len(got) < len(want) && len(want) <= Window {
			t.Fatalf("read %d bytes, want the %d payload bytes of the well-formed frames", len(got), len(want))
		}
	})
}

// wellFormed is the payload of the DATA frames at the start of s, up to
// the first frame the receiver refuses or that is cut short.
func wellFormed(s []byte) []byte {
	var out []byte
	for len(s) >= headerLen {
		typ, n := s[0], int(s[1])<<16|int(s[2])<<8|int(s[3])
		s = s[headerLen:]
		switch {
		case typ == typeData && n > 0 && n <= MaxData && n <= len(s):
			out = append(out, s[:n]...)
			s = s[n:]
		case typ == typeGrant && n > 0 && n <= Window:
			// Credit beyond the window ends it; only one grant fits here.
			return out
		default:
			return out
		}
	}
	return out
}
