package session

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/drover-dev/drover/test/fake"
)

// memShared is a Shared in memory, with the compare-and-swap of the real
// one.
type memShared struct {
	mu    sync.Mutex
	b     []byte
	swaps int
}

func (m *memShared) Load() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.b), nil
}

func (m *memShared) Swap(prev, next []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !bytes.Equal(prev, m.b) || (prev == nil) != (m.b == nil) {
		return false, nil
	}
	m.b = bytes.Clone(next)
	m.swaps++
	return true, nil
}

// TestSharedKeys: replicas sharing the key set verify each other's tokens,
// also after one of them rotated (the other reads the set again for the
// unknown kid); a key set in a file moves to the shared store, so sessions
// made before verify; a rotation made by two replicas at once happens once.
func TestSharedKeys(t *testing.T) {
	clk := fake.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	single, err := Open(Options{Dir: dir, TTL: time.Hour, RotateEvery: 24 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := single.Sign("u-0000000001", "s-0000000001")
	if err != nil {
		t.Fatal(err)
	}

	shared := &memShared{}
	opts := Options{Dir: dir, TTL: time.Hour, RotateEvery: 24 * time.Hour, Now: clk.Now, Shared: shared}
	a, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir = t.TempDir() // b has no file of its own
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*Keys{"a": a, "b": b} {
		if _, _, err := k.Verify(old); err != nil {
			t.Errorf("%s: a session signed before the move: %v", name, err)
		}
	}

	clk.Add(25 * time.Hour)
	if err := a.Maintain(); err != nil {
		t.Fatal(err)
	}
	if err := b.Maintain(); err != nil { // due too, but a rotated first
		t.Fatal(err)
	}
	if shared.swaps != 2 { // the move, then one rotation
		t.Errorf("%d stores of the shared set, want 2", shared.swaps)
	}
	clk.Add(23 * time.Hour)
	if err := a.Maintain(); err != nil { // a rotates again; b does not know yet
		t.Fatal(err)
	}
	tok, _, err := a.Sign("u-0000000002", "s-0000000002")
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	if sid, _, err := b.Verify(tok); err != nil || sid != "s-0000000002" {
		t.Errorf("b verifies a's token signed with a key it had not read: %q, %v", sid, err)
	}
	if err := b.Rotate(); err == nil {
		t.Error("Rotate of a shared set outside Maintain")
	}
}

// slowShared is a memShared whose Load, once blocked, waits until it is
// released: a database that stopped answering.
type slowShared struct {
	memShared
	blocked chan struct{} // closed: Load waits
	entered chan struct{} // a Load is waiting
	release chan struct{}
}

func (s *slowShared) Load() ([]byte, error) {
	select {
	case <-s.blocked:
		s.entered <- struct{}{}
		<-s.release
	default:
	}
	return s.memShared.Load()
}

// TestSharedKeysSlowStore: while the shared store is slow to answer (a
// read for an unknown kid, which anyone can send, or the periodic
// maintenance), tokens of known keys keep verifying and signing goes on:
// the store is read without holding the keys.
func TestSharedKeysSlowStore(t *testing.T) {
	unknownKid := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))})
	unknownKid.Header["kid"] = "k-zzzzzzzzzz"
	forged, err := unknownKid.SignedString([]byte("anything"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		slow func(k *Keys)
	}{
		{"a token of an unknown kid", func(k *Keys) { k.Verify(forged) }},
		{"maintenance", func(k *Keys) { k.Maintain() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := fake.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			shared := &slowShared{blocked: make(chan struct{}), entered: make(chan struct{}, 1), release: make(chan struct{})}
			k, err := Open(Options{Dir: t.TempDir(), TTL: time.Hour, RotateEvery: 24 * time.Hour, Now: clk.Now, Shared: shared})
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := k.Sign("u-0000000001", "s-0000000001")
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Second)
			close(shared.blocked)
			slowDone := make(chan struct{})
			go func() { tc.slow(k); close(slowDone) }()
			<-shared.entered
			done := make(chan error, 1)
			go func() {
				if _, _, err := k.Verify(tok); err != nil {
					done <- err
					return
				}
				_, _, err := k.Sign("u-0000000001", "s-0000000002")
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("while the store is slow: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("verifying a token of a known key waited for the slow store")
				defer func() { <-done }()
			}
			close(shared.release)
			<-slowDone
		})
	}
}

// failingShared is a memShared whose Swap fails once failing is set.
type failingShared struct {
	memShared
	failing bool
}

func (f *failingShared) Swap(prev, next []byte) (bool, error) {
	if f.failing {
		return false, errors.New("the database is away")
	}
	return f.memShared.Swap(prev, next)
}

// TestSharedKeysFailedRotation: a rotation the store did not take leaves
// this replica signing with the key every replica knows, not with one
// only it has.
func TestSharedKeysFailedRotation(t *testing.T) {
	clk := fake.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	shared := &failingShared{}
	opts := Options{Dir: t.TempDir(), TTL: time.Hour, RotateEvery: 24 * time.Hour, Now: clk.Now, Shared: shared}
	a, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(25 * time.Hour)
	shared.failing = true
	if err := a.Maintain(); err == nil {
		t.Fatal("Maintain with a failing store: no error")
	}
	tok, _, err := a.Sign("u-0000000001", "s-0000000001")
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	if _, _, err := b.Verify(tok); err != nil {
		t.Errorf("another replica verifies a token signed after a failed rotation: %v", err)
	}
}
