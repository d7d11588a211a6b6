package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/fake"
)

// step is one call to Allow after the clock moved by advance.
type step struct {
	advance  time.Duration
	key      string
	wantOK   bool
	wantWait time.Duration
}

func TestKeyed(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		steps   []step
		wantLen int
	}{
		{
			name: "burst then refused with the wait for one attempt",
			opts: Options{Burst: 2, Per: time.Minute},
			steps: []step{
				{key: "k", wantOK: true},
				{key: "k", wantOK: true},
				{key: "k", wantWait: 30 * time.Second},
				{advance: 10 * time.Second, key: "k", wantWait: 20 * time.Second},
				{advance: 20 * time.Second, key: "k", wantOK: true},
				{key: "k", wantWait: 30 * time.Second},
			},
			wantLen: 1,
		},
		{
			name: "keys are independent",
			opts: Options{Burst: 1, Per: time.Minute},
			steps: []step{
				{key: "a", wantOK: true},
				{key: "a", wantWait: time.Minute},
				{key: "b", wantOK: true},
			},
			wantLen: 2,
		},
		{
			name: "today's login limits: 10 a minute per user",
			opts: Options{Burst: 10, Per: time.Minute},
			steps: append(repeat(10, step{key: "bob", wantOK: true}),
				step{key: "bob", wantWait: 6 * time.Second},
				step{advance: 6 * time.Second, key: "bob", wantOK: true}),
			wantLen: 1,
		},
		{
			name: "full of buckets in use: newcomers refused, none evicted",
			opts: Options{Burst: 2, Per: time.Minute, MaxKeys: 2},
			steps: []step{
				{key: "a", wantOK: true},
				{key: "b", wantOK: true},
				{key: "c", wantWait: 30 * time.Second},
				{key: "a", wantOK: true},
				{key: "a", wantWait: 30 * time.Second},
			},
			wantLen: 2,
		},
		{
			name: "refilled buckets are evicted to make room",
			opts: Options{Burst: 2, Per: time.Minute, MaxKeys: 2},
			steps: []step{
				{key: "a", wantOK: true},
				{key: "b", wantOK: true},
				{key: "b", wantOK: true},
				{advance: 31 * time.Second, key: "c", wantOK: true}, // a refilled, b has not
				{key: "b", wantOK: true},
				{key: "b", wantWait: 29 * time.Second},
			},
			wantLen: 2,
		},
		{
			name: "a full set is swept at most once per regained attempt",
			opts: Options{Burst: 2, Per: time.Minute, MaxKeys: 1},
			steps: []step{
				{key: "a", wantOK: true},
				{key: "a", wantOK: true},
				{key: "b", wantWait: 30 * time.Second}, // sweeps: a is in use
				{advance: time.Minute, key: "c", wantOK: true},
				{key: "d", wantWait: 30 * time.Second}, // c in use
				{advance: 29 * time.Second, key: "d", wantWait: 30 * time.Second},
			},
			wantLen: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := fake.NewClock(time.Unix(1_700_000_000, 0))
			tc.opts.Now = clk.Now
			l := New(tc.opts)
			var got, want []string
			for _, s := range tc.steps {
				clk.Add(s.advance)
				ok, wait := l.Allow(s.key)
				got = append(got, fmt.Sprintf("%s %v %v", s.key, ok, wait.Round(time.Millisecond)))
				want = append(want, fmt.Sprintf("%s %v %v", s.key, s.wantOK, s.wantWait))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("key allowed wait (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLen, l.Len()); diff != "" {
				t.Errorf("buckets kept (-want +got):\n%s", diff)
			}
		})
	}
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestKeyedBounded sends more distinct keys than the bound, as an attacker
// choosing usernames would, concurrently.
func TestKeyedBounded(t *testing.T) {
	clk := fake.NewClock(time.Unix(1_700_000_000, 0))
	l := New(Options{Burst: 3, Per: time.Minute, MaxKeys: 100, Now: clk.Now})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				l.Allow(fmt.Sprintf("user-%d-%d", w, i))
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 100 {
		t.Errorf("%d buckets kept, want at most 100", n)
	}
	clk.Add(time.Minute) // all refilled: a newcomer gets room
	if ok, _ := l.Allow("late"); !ok {
		t.Error("newcomer refused after every bucket refilled")
	}
}
