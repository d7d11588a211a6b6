package access

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/test/fake"
)

type fakeMembers struct {
	member   map[string]bool // user/cluster
	clusters map[string]bool // existing cluster ids
	calls    int
	err      error
}

func (f *fakeMembers) IsClusterMember(_ context.Context, user, cluster string) (bool, error) {
	f.calls++
	if f.err != nil {
		return false, f.err
	}
	if !f.clusters[cluster] {
		return false, fmt.Errorf("cluster %q: %w", cluster, store.ErrNotFound)
	}
	return f.member[user+"/"+cluster], nil
}

func (f *fakeMembers) MemberClusterIDs(_ context.Context, user string) (map[string]bool, error) {
	out := map[string]bool{}
	for c := range f.clusters {
		if f.member[user+"/"+c] {
			out[c] = true
		}
	}
	return out, f.err
}

func (f *fakeMembers) CallerBindings(context.Context, string, string) ([]store.Binding, error) {
	return nil, f.err
}

func (f *fakeMembers) ListProjects(context.Context, string) ([]store.Project, error) {
	return nil, f.err
}

func (f *fakeMembers) Cluster(_ context.Context, id string) (store.Cluster, error) {
	f.calls++
	if f.err != nil {
		return store.Cluster{}, f.err
	}
	if !f.clusters[id] {
		return store.Cluster{}, fmt.Errorf("cluster %q: %w", id, store.ErrNotFound)
	}
	return store.Cluster{ID: id}, nil
}

func TestCheckerCache(t *testing.T) {
	ctx := context.Background()
	clock := fake.NewClock(time.Unix(1000, 0))
	st := &fakeMembers{member: map[string]bool{"u-1/c-1": true}, clusters: map[string]bool{"c-1": true}}
	c := NewChecker(CheckerOptions{Store: st, TTL: 2 * time.Second, Now: clock.Now})

	type step struct {
		name      string
		advance   time.Duration
		change    func()
		caller    Caller
		want      Verdict
		wantCalls int // store reads so far
	}
	steps := []step{
		{name: "first answer reads the store", caller: Caller{UserID: "u-1"}, want: Allowed, wantCalls: 1},
		{name: "cached", caller: Caller{UserID: "u-1"}, want: Allowed, wantCalls: 1},
		{name: "another user reads", caller: Caller{UserID: "u-2"}, want: NotMember, wantCalls: 2},
		{name: "a denial is cached too", caller: Caller{UserID: "u-2"}, want: NotMember, wantCalls: 2},
		{name: "binding removed: still cached within the TTL", change: func() { st.member["u-1/c-1"] = false },
			advance: time.Second, caller: Caller{UserID: "u-1"}, want: Allowed, wantCalls: 2},
		{name: "after the TTL the store answers", advance: time.Second, caller: Caller{UserID: "u-1"}, want: NotMember, wantCalls: 3},
		{name: "binding added and Invalidate: at once", change: func() { st.member["u-2/c-1"] = true; c.Invalidate() },
			caller: Caller{UserID: "u-2"}, want: Allowed, wantCalls: 4},
		{name: "admin: existence read once", caller: Caller{UserID: "u-9", Admin: true}, want: Allowed, wantCalls: 5},
		{name: "admin: existence cached", caller: Caller{UserID: "u-9", Admin: true}, want: Allowed, wantCalls: 5},
		{name: "cluster deleted and Invalidate: admin gets NoSuchCluster", change: func() { delete(st.clusters, "c-1"); c.Invalidate() },
			caller: Caller{UserID: "u-9", Admin: true}, want: NoSuchCluster, wantCalls: 6},
		{name: "deleted cluster: a former member is no member", caller: Caller{UserID: "u-2"}, want: NotMember, wantCalls: 7},
		{name: "absence is not cached", caller: Caller{UserID: "u-9", Admin: true}, want: NoSuchCluster, wantCalls: 8},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clock.Add(s.advance)
			if s.change != nil {
				s.change()
			}
			got, err := c.MayReach(ctx, s.caller, "c-1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]any{s.want, s.wantCalls}, [2]any{got, st.calls}); diff != "" {
				t.Errorf("(verdict, store reads) (-want +got):\n%s", diff)
			}
		})
	}

	st.err = errors.New("database is locked")
	c.Invalidate()
	for _, caller := range []Caller{{UserID: "u-1"}, {UserID: "u-1", Admin: true}} {
		if v, err := c.MayReach(ctx, caller, "c-1"); err == nil {
			t.Errorf("store error for %+v: %v, nil; want the error", caller, v)
		}
	}
	if _, err := c.Reachable(ctx, Caller{UserID: "u-1"}); err == nil {
		t.Error("Reachable with a store error: no error")
	}
}

// TestReachRule enumerates every kind of caller against every kind of
// cluster: MayReach and Reachable (the proxy's and the listings' question)
// give the same answer, and that answer is the rule.
func TestReachRule(t *testing.T) {
	ctx := context.Background()
	st := &fakeMembers{
		member:   map[string]bool{"u-m/c-in": true, "u-m/c-other": true, "u-off/c-in": true},
		clusters: map[string]bool{"c-in": true, "c-other": true, "c-out": true},
	}
	c := NewChecker(CheckerOptions{Store: st})
	callers := map[string]Caller{
		"admin":                  {UserID: "u-a", Admin: true},
		"admin scoped to c-in":   {UserID: "u-a", Admin: true, Scope: "c-in"},
		"member":                 {UserID: "u-m"},
		"member scoped to c-in":  {UserID: "u-m", Scope: "c-in"},
		"member scoped to c-out": {UserID: "u-m", Scope: "c-out"},
		"non-member":             {UserID: "u-n"},
		"disabled member":        {UserID: "u-off", Disabled: true},
		"disabled admin":         {UserID: "u-a", Admin: true, Disabled: true},
	}
	// want: caller → the clusters it reaches.
	want := map[string][]string{
		"admin":                  {"c-in", "c-other", "c-out"},
		"admin scoped to c-in":   {"c-in"},
		"member":                 {"c-in", "c-other"},
		"member scoped to c-in":  {"c-in"},
		"member scoped to c-out": nil,
		"non-member":             nil,
		"disabled member":        nil,
		"disabled admin":         nil,
	}
	clusters := []string{"c-in", "c-other", "c-out", "c-missing"}
	for name, caller := range callers {
		t.Run(name, func(t *testing.T) {
			reachable, err := c.Reachable(ctx, caller)
			if err != nil {
				t.Fatal(err)
			}
			var got, listed []string
			for _, id := range clusters {
				v, err := c.MayReach(ctx, caller, id)
				if err != nil {
					t.Fatal(err)
				}
				if v == Allowed {
					got = append(got, id)
				}
				if reachable(id) && st.clusters[id] {
					listed = append(listed, id)
				}
				if v == NoSuchCluster && !caller.Admin {
					t.Errorf("%s: a non-admin learnt that %s does not exist", name, id)
				}
			}
			if diff := cmp.Diff(want[name], got); diff != "" {
				t.Errorf("MayReach (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, listed); diff != "" {
				t.Errorf("Reachable disagrees with MayReach (-MayReach +Reachable):\n%s", diff)
			}
		})
	}
}
