package connlimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// serve accepts on a wrapped loopback listener until the test ends and
// keeps what it accepted open; it returns the listener and its address.
func serve(t *testing.T, opts Options) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	l := NewListener(ln, opts)
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for c := range accepted {
			c.Close()
		}
	})
	return l, ln.Addr().String()
}

// dialFrom connects from a loopback source address and reports whether
// the server kept the connection (a refused one is closed at once).
func dialFrom(t *testing.T, src, addr string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	// Kept: nothing to read yet. Refused: EOF or a reset.
	var ne net.Error
	return c, errors.As(err, &ne) && ne.Timeout()
}

func TestListenerCaps(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		sources []string // dialed in order
		want    []bool   // kept
	}{
		{"per address: another address is still served", Options{MaxConns: 10, MaxConnsPerAddress: 2},
			[]string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.2"},
			[]bool{true, true, false, true, false}},
		{"total", Options{MaxConns: 3, MaxConnsPerAddress: 2},
			[]string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.2"},
			[]bool{true, true, true, false, false}},
		{"a trusted proxy is exempt from the per-address cap, not the total", Options{MaxConns: 3, MaxConnsPerAddress: 1,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}},
			[]string{"127.0.0.9", "127.0.0.9", "127.0.0.9", "127.0.0.9", "127.0.0.2"},
			[]bool{true, true, true, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := serve(t, tc.opts)
			var got []bool
			for _, src := range tc.sources {
				_, kept := dialFrom(t, src, addr)
				got = append(got, kept)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("kept (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMoveToAgents: an authenticated agent's connection leaves the
// ordinary pool (its address and the total have room again) and counts
// against the agents' cap only.
func TestMoveToAgents(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, Options{MaxConns: 2, MaxConnsPerAddress: 1, MaxAgentConns: 1, Logger: slog.New(slog.DiscardHandler)})
	defer l.Close()
	accept := func(src string) *Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		cc, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*Conn)
	}
	a := accept("127.0.0.2")
	ctx := l.ConnContext(context.Background(), a)
	if err := MoveToAgents(ctx); err != nil {
		t.Fatal(err)
	}
	if err := MoveToAgents(ctx); err != nil {
		t.Errorf("moving twice: %v", err)
	}
	if o, ag, n := l.Counts("127.0.0.2"); o != 0 || ag != 1 || n != 0 {
		t.Errorf("after the move: ordinary %d, agents %d, of the address %d; want 0 1 0", o, ag, n)
	}
	b := accept("127.0.0.2") // the address has its slot back
	if err := MoveToAgents(l.ConnContext(context.Background(), b)); !errors.Is(err, ErrAgentsFull) {
		t.Errorf("second agent over a cap of 1: %v, want ErrAgentsFull", err)
	}
	if o, ag, n := l.Counts("127.0.0.2"); o != 1 || ag != 1 || n != 1 {
		t.Errorf("after the refusal: ordinary %d, agents %d, of the address %d; want 1 1 1", o, ag, n)
	}
	a.Close()
	a.Close() // closing twice uncounts once
	if o, ag, _ := l.Counts("127.0.0.2"); o != 1 || ag != 0 {
		t.Errorf("after the agent left: ordinary %d, agents %d; want 1 0", o, ag)
	}
	if err := MoveToAgents(context.Background()); err != nil {
		t.Errorf("a request on no counted connection: %v", err)
	}
}

// TestLeaveAddressCap: a connection a peer replica proved itself on stops
// counting against its address (which has room again) but not against the
// total; leaving twice, or closing, uncounts once.
func TestLeaveAddressCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, Options{MaxConns: 3, MaxConnsPerAddress: 1, Logger: slog.New(slog.DiscardHandler)})
	defer l.Close()
	type counts struct{ Ordinary, OfAddress int }
	count := func() counts {
		o, _, n := l.Counts("127.0.0.2")
		return counts{o, n}
	}
	accept := func() *Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		cc, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*Conn)
	}
	a := accept()
	ctx := l.ConnContext(context.Background(), a)
	LeaveAddressCap(ctx)
	LeaveAddressCap(ctx)
	if diff := cmp.Diff(counts{1, 0}, count()); diff != "" {
		t.Errorf("after leaving (-want +got):\n%s", diff)
	}
	b := accept() // the address has its slot back
	if diff := cmp.Diff(counts{2, 1}, count()); diff != "" {
		t.Errorf("another connection of the address (-want +got):\n%s", diff)
	}
	a.Close()
	if diff := cmp.Diff(counts{1, 1}, count()); diff != "" {
		t.Errorf("after the peer's connection closed (-want +got):\n%s", diff)
	}
	b.Close()
	if diff := cmp.Diff(counts{0, 0}, count()); diff != "" {
		t.Errorf("after both closed (-want +got):\n%s", diff)
	}
	LeaveAddressCap(context.Background()) // no counted connection: nothing
}
