package access

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/fake"
)

type fakeMembers struct {
	member map[string]bool // user/cluster
	calls  int
	err    error
}

func (f *fakeMembers) IsClusterMember(_ context.Context, user, cluster string) (bool, error) {
	f.calls++
	return f.member[user+"/"+cluster], f.err
}

func TestChecker(t *testing.T) {
	ctx := context.Background()
	clk := fake.NewClock(time.Unix(1000, 0))
	st := &fakeMembers{member: map[string]bool{"u-1/c-1": true}}
	c := NewChecker(CheckerOptions{Store: st, TTL: 2 * time.Second, Now: clk.Now})

	type step struct {
		name      string
		advance   time.Duration
		change    func()
		user      string
		want      bool
		wantCalls int // store reads so far
	}
	steps := []step{
		{name: "first answer reads the store", user: "u-1", want: true, wantCalls: 1},
		{name: "cached", user: "u-1", want: true, wantCalls: 1},
		{name: "another user reads", user: "u-2", want: false, wantCalls: 2},
		{name: "a denial is cached too", user: "u-2", want: false, wantCalls: 2},
		{name: "binding removed: still cached within the TTL", change: func() { st.member["u-1/c-1"] = false },
			advance: time.Second, user: "u-1", want: true, wantCalls: 2},
		{name: "after the TTL the store answers", advance: time.Second, user: "u-1", want: false, wantCalls: 3},
		{name: "binding added and Invalidate: at once", change: func() { st.member["u-2/c-1"] = true; c.Invalidate() },
			user: "u-2", want: true, wantCalls: 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Add(s.advance)
			if s.change != nil {
				s.change()
			}
			got, err := c.Member(ctx, s.user, "c-1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]any{s.want, s.wantCalls}, [2]any{got, st.calls}); diff != "" {
				t.Errorf("(member, store reads) (-want +got):\n%s", diff)
			}
		})
	}

	st.err = errors.New("database is locked")
	c.Invalidate()
	if ok, err := c.Member(ctx, "u-1", "c-1"); err == nil || ok {
		t.Errorf("store error: %v, %v; want the error and no membership", ok, err)
	}
}
