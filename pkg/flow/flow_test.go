package flow

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait: a hang is a failure.
const waitTimeout = 10 * time.Second

// pair is two flow-controlled ends of one in-memory stream.
func pair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	a, b := net.Pipe()
	ca, cb := New(a), New(b)
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

// sendAll writes data to w in pieces of random sizes up to max and returns
// the error, if any.
func sendAll(w io.Writer, data []byte, max int) error {
	for len(data) > 0 {
		var b [2]byte
		rand.Read(b[:])
		k := min(len(data), 1+(int(b[0])<<8|int(b[1]))%max)
		if _, err := w.Write(data[:k]); err != nil {
			return err
		}
		data = data[k:]
	}
	return nil
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestBothWays moves 8 MiB each way at the same time, in writes of random
// sizes, and checks every byte arrived in order.
func TestBothWays(t *testing.T) {
	for _, max := range []int{1, 100, MaxData, 3 * MaxData} {
		ca, cb := pair(t)
		n := 8 << 20
		if max == 1 {
			n = 64 << 10
		}
		up, down := randomBytes(t, n), randomBytes(t, n)
		var wg sync.WaitGroup
		var moved atomic.Int64 // bytes read so far, both ways
		errs := make(chan error, 4)
		got := make([][32]byte, 2)
		for i, x := range []struct {
			w    *Conn
			r    *Conn
			data []byte
		}{{ca, cb, up}, {cb, ca, down}} {
			wg.Add(2)
			go func() { defer wg.Done(); errs <- sendAll(x.w, x.data, max) }()
			go func() {
				defer wg.Done()
				h := sha256.New()
				_, err := io.CopyN(progressWriter{h, &moved}, x.r, int64(len(x.data)))
				copy(got[i][:], h.Sum(nil))
				errs <- err
			}()
		}
		// A stall is no progress for waitTimeout; a slow machine (the race
		// detector, other tests) is no stall.
		waitProgress(t, &wg, moved.Load)
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("writes of up to %d bytes: %v", max, err)
			}
		}
		if got[0] != sha256.Sum256(up) || got[1] != sha256.Sum256(down) {
			t.Fatalf("writes of up to %d bytes: the data that arrived differs from what was sent", max)
		}
	}
}

// progressWriter counts what passes through it into n.
type progressWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n.Add(int64(n))
	return n, err
}

// waitProgress waits for wg, failing when progress stays the same for
// waitTimeout.
func waitProgress(t *testing.T, wg *sync.WaitGroup, progress func() int64) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	last, since := progress(), time.Now()
	for {
		select {
		case <-done:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if p := progress(); p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > waitTimeout {
			t.Fatalf("stalled: no progress for %v after %d bytes", waitTimeout, p)
		}
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("stalled")
	}
}

// TestWindowBoundsWhatWaits: a writer whose peer does not read stops after
// Window bytes, the receiver never holds more, and reading lets it go on.
func TestWindowBoundsWhatWaits(t *testing.T) {
	ca, cb := pair(t)
	const n = 4 * Window
	var wrote sync.WaitGroup
	wrote.Add(1)
	var werr error
	go func() { defer wrote.Done(); werr = sendAll(ca, make([]byte, n), MaxData) }()
	waitFor(t, "the receiver to hold a full window", func() bool {
		cb.mu.Lock()
		defer cb.mu.Unlock()
		return cb.in.Len() == Window
	})
	time.Sleep(100 * time.Millisecond) // time for a writer that ignored the window to overrun it
	cb.mu.Lock()
	held := cb.in.Len()
	cb.mu.Unlock()
	ca.mu.Lock()
	credit := ca.credit
	ca.mu.Unlock()
	if held != Window || credit != 0 {
		t.Fatalf("with nobody reading, the receiver holds %d bytes and the writer has %d credit; want %d and 0", held, credit, Window)
	}
	if _, err := io.CopyN(io.Discard, cb, n); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, &wrote)
	if werr != nil {
		t.Fatal(werr)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPeerBreaksProtocol: every frame a well-behaved peer never sends ends
// the stream with ErrProtocol and closes the tunnel's connection.
func TestPeerBreaksProtocol(t *testing.T) {
	data := func(n int) []byte {
		h := header(typeData, n)
		return append(h[:], make([]byte, n)...)
	}
	grant := func(n int) []byte { h := header(typeGrant, n); return h[:] }
	beyondWindow := []byte{}
	for sent := 0; sent <= Window; sent += MaxData {
		beyondWindow = append(beyondWindow, data(MaxData)...)
	}
	for _, c := range []struct {
		name string
		sent []byte
	}{
		{"unknown type", []byte{2, 0, 0, 1, 0}},
		{"type with high bit", []byte{0x80, 0, 0, 1, 0}},
		{"empty data", data(0)},
		{"data too long", []byte{typeData, 0, 0x80, 0}},
		{"data of the largest length", []byte{typeData, 0xff, 0xff, 0xff}},
		{"empty grant", grant(0)},
		{"grant beyond the window", grant(1)},
		{"data beyond the window", beyondWindow},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := net.Pipe()
			ca := New(a)
			defer ca.Close()
			go func() { b.Write(c.sent) }()
			// Nothing is read before the violation: reading returns credit.
			waitFor(t, "the stream to end", func() bool {
				ca.mu.Lock()
				defer ca.mu.Unlock()
				return ca.rerr != nil
			})
			_, err := io.Copy(io.Discard, ca)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Read: %v, want ErrProtocol", err)
			}
			if _, err := b.Read(make([]byte, 1)); err == nil {
				t.Fatal("the tunnel's connection is still open")
			}
		})
	}
}

// TestEnds: every way a stream ends wakes whoever waits on it.
func TestEnds(t *testing.T) {
	t.Run("close wakes a blocked read and write", func(t *testing.T) {
		ca, _ := pair(t)
		errs := make(chan error, 2)
		go func() { _, err := ca.Read(make([]byte, 1)); errs <- err }()
		go func() { errs <- sendAll(ca, make([]byte, 2*Window), MaxData) }()
		time.Sleep(50 * time.Millisecond)
		ca.Close()
		for range 2 {
			select {
			case err := <-errs:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("got %v, want net.ErrClosed", err)
				}
			case <-time.After(waitTimeout):
				t.Fatal("still blocked after Close")
			}
		}
	})
	t.Run("nothing is read after Close", func(t *testing.T) {
		// A proxy closes a stream it ended (a revoked credential); what the
		// peer sent before or answers after must not reach its client.
		ca, cb := pair(t)
		if _, err := cb.Write([]byte("before")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the data to arrive", func() bool { ca.mu.Lock(); defer ca.mu.Unlock(); return ca.in.Len() > 0 })
		ca.Close()
		cb.Write([]byte("after"))
		for range 3 {
			if n, err := ca.Read(make([]byte, 64)); n != 0 || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Read after Close = %d, %v; want 0, net.ErrClosed", n, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("the peer's close is an EOF after the data", func(t *testing.T) {
		ca, cb := pair(t)
		go func() { cb.Write([]byte("last words")); cb.Close() }()
		got, err := io.ReadAll(ca)
		if err != nil || string(got) != "last words" {
			t.Fatalf("ReadAll = %q, %v; want the data, then EOF", got, err)
		}
		if _, err := ca.Write([]byte("x")); err == nil {
			t.Fatal("a write after the peer closed succeeded")
		}
	})
	t.Run("deadlines", func(t *testing.T) {
		ca, _ := pair(t)
		ca.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := ca.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read: %v, want a deadline error", err)
		}
		// The window fills (nobody reads), however long the machine takes;
		// then a write past it waits for credit until its deadline.
		if n, err := ca.Write(make([]byte, Window)); err != nil || n != Window {
			t.Fatalf("Write of the window = %d, %v", n, err)
		}
		ca.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := ca.Write(make([]byte, Window))
		if !errors.Is(err, os.ErrDeadlineExceeded) || n != 0 {
			t.Errorf("Write past the window = %d, %v; want 0, then a deadline error", n, err)
		}
		ca.SetDeadline(time.Time{})
	})
}

// TestBridge: the agent's end relays a plain connection's bytes both ways
// and closes it when the stream ends.
func TestBridge(t *testing.T) {
	plain, apiserver := net.Pipe()
	near := Bridge(plain)
	server := New(near)
	go func() {
		// An echo server that reads a line before it answers.
		buf := make([]byte, 5)
		for {
			if _, err := io.ReadFull(apiserver, buf); err != nil {
				apiserver.Close()
				return
			}
			apiserver.Write(bytes.ToUpper(buf))
		}
	}()
	for _, word := range []string{"hello", "again"} {
		server.Write([]byte(word))
		got := make([]byte, 5)
		if _, err := io.ReadFull(server, got); err != nil || string(got) != string(bytes.ToUpper([]byte(word))) {
			t.Fatalf("echo of %q = %q, %v", word, got, err)
		}
	}
	server.Close()
	if _, err := apiserver.Read(make([]byte, 1)); err == nil {
		t.Fatal("the plain connection is still open after the stream ended")
	}
}
