package notify

import "sync"

// Signal wakes every waiter on each Notify. The zero value is not ready;
// use New. A nil *Signal never fires and Notify on it does nothing.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// New returns a Signal.
func New() *Signal { return &Signal{ch: make(chan struct{})} }

// Notify wakes everyone waiting on a channel Wait returned before it.
func (s *Signal) Notify() {
	if s == nil {
		return
	}
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// Wait returns a channel closed by the next Notify. Take it before reading
// the state it guards, so a change made during the read is not missed.
func (s *Signal) Wait() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}
