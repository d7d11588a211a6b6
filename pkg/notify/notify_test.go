package notify

import (
	"sync"
	"testing"
	"time"
)

func TestSignal(t *testing.T) {
	t.Run("wakes every waiter taken before Notify", func(t *testing.T) {
		s := New()
		waits := []<-chan struct{}{s.Wait(), s.Wait(), s.Wait()}
		s.Notify()
		for i, w := range waits {
			select {
			case <-w:
			default:
				t.Errorf("waiter %d not woken", i)
			}
		}
	})
	t.Run("a channel taken after Notify waits for the next", func(t *testing.T) {
		s := New()
		s.Notify()
		w := s.Wait()
		select {
		case <-w:
			t.Fatal("woken by an earlier Notify")
		default:
		}
		s.Notify()
		select {
		case <-w:
		case <-time.After(10 * time.Second):
			t.Fatal("not woken")
		}
	})
	t.Run("nil never fires", func(t *testing.T) {
		var s *Signal
		s.Notify()
		if s.Wait() != nil {
			t.Fatal("nil Signal returned a channel")
		}
	})
	t.Run("concurrent notifies and waits", func(t *testing.T) {
		s := New()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 1000 {
					w := s.Wait()
					s.Notify()
					<-w // our own Notify at least closed it
				}
			})
		}
		wg.Wait()
	})
}
