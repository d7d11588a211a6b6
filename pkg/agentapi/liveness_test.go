package agentapi

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestWatchIdle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := net.Pipe()
	defer b.Close()
	var idle atomic.Bool
	w := WatchIdle(a, 200*time.Millisecond, func() { idle.Store(true) })

	// Traffic keeps it open well past the timeout.
	go func() {
		for range 10 {
			b.Write([]byte("x"))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	buf := make([]byte, 1)
	for range 10 {
		if _, err := w.Read(buf); err != nil {
			t.Fatalf("read while traffic flows: %v", err)
		}
	}
	if idle.Load() {
		t.Fatal("closed while traffic was flowing")
	}
	// Silence closes it.
	deadline := time.Now().Add(5 * time.Second)
	for !idle.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !idle.Load() {
		t.Fatal("a silent connection was not closed")
	}
	if _, err := w.Read(buf); err == nil {
		t.Error("read on an idle-closed connection succeeded")
	}
}

func TestWatchIdleStopsOnClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := net.Pipe()
	defer b.Close()
	var idle atomic.Bool
	w := WatchIdle(a, time.Hour, func() { idle.Store(true) })
	w.Close()
	w.Close() // idempotent
	if idle.Load() {
		t.Error("onIdle ran for a closed connection")
	}
}

func TestWatchProbes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := net.Pipe()
	defer b.Close()
	var probes, dead atomic.Int32
	// A peer that answers each probe keeps the connection alive.
	w := Watch(a, Liveness{Dead: 300 * time.Millisecond, ProbeAfter: 100 * time.Millisecond,
		Probe: func() { probes.Add(1); go b.Write([]byte("pong")) }, OnDead: func() { dead.Add(1) }})
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := w.Read(buf); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	if dead.Load() != 0 {
		t.Fatal("a peer answering probes was declared dead")
	}
	if probes.Load() < 3 {
		t.Errorf("only %d probes in 1s of silence", probes.Load())
	}
	w.Close()
}
