package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRateLimit: burst events pass, the next is refused with the time to
// wait, other keys are counted apart, and servers racing on one key
// together let exactly burst through.
func TestRateLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		for i := range 3 {
			if ok, _, err := st.RateLimit(ctx, []byte("k1"), 3, time.Minute); !ok || err != nil {
				t.Fatalf("event %d: %v %v", i+1, ok, err)
			}
		}
		ok, wait, err := st.RateLimit(ctx, []byte("k1"), 3, time.Minute)
		if ok || err != nil || wait <= 0 || wait > 21*time.Second {
			t.Errorf("event 4: %v, wait %v, %v; want refused, about 20s", ok, wait, err)
		}
		if ok, _, err := st.RateLimit(ctx, []byte("k2"), 3, time.Minute); !ok || err != nil {
			t.Errorf("another key: %v %v", ok, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for range 20 {
			wg.Go(func() {
				if ok, _, err := st.RateLimit(ctx, []byte("k3"), 5, time.Hour); err != nil {
					t.Error(err)
				} else if ok {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if passed != 5 {
			t.Errorf("%d of 20 racing events passed a burst of 5", passed)
		}
	})
}

// TestSpendSecret: a secret is spent once, by whoever comes first; once
// past its expiry the record goes.
func TestSpendSecret(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Now()
		if fresh, err := st.SpendSecret(ctx, []byte("d1"), now.Add(time.Minute), now); !fresh || err != nil {
			t.Fatalf("first spend: %v %v", fresh, err)
		}
		if fresh, err := st.SpendSecret(ctx, []byte("d1"), now.Add(time.Minute), now); fresh || err != nil {
			t.Errorf("second spend: %v %v", fresh, err)
		}
		later := now.Add(2 * time.Minute)
		if fresh, err := st.SpendSecret(ctx, []byte("d1"), later.Add(time.Minute), later); !fresh || err != nil {
			t.Errorf("after expiry: %v %v", fresh, err)
		}
	})
}
