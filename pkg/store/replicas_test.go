package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReplicas: replicas register and beat; one whose beat is old is not
// live, its tunnels are not offered, and forgetting it takes its tunnels;
// holders come cluster agents first.
func TestReplicas(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Now()
		must(t, st.CreateCluster(ctx, Cluster{ID: "c-1", Name: "one", CreatedAt: now}))
		for _, id := range []string{"r-a", "r-b", "r-c"} {
			must(t, st.RegisterReplica(ctx, Replica{ID: id, URL: "https://" + id, Peer: hashed([]byte("s"), []byte("h"))}))
		}
		must(t, st.SetTunnels(ctx, "r-a", "c-1", "node", 2, now))
		must(t, st.SetTunnels(ctx, "r-b", "c-1", "cluster", 1, now))
		must(t, st.SetTunnels(ctx, "r-c", "c-1", "node", 1, now.Add(time.Second)))
		must(t, st.SetTunnels(ctx, "r-a", "c-404", "cluster", 1, now)) // deleted meanwhile: ignored
		holders := func() []string {
			hs, err := st.TunnelHolders(ctx, "c-1", time.Minute)
			must(t, err)
			var out []string
			for _, h := range hs {
				out = append(out, h.ReplicaID+"/"+h.Kind)
			}
			return out
		}
		if diff := cmp.Diff([]string{"r-b/cluster", "r-c/node", "r-a/node"}, holders()); diff != "" {
			t.Errorf("holders (-want +got):\n%s", diff)
		}
		// r-c stops beating.
		_, err := st.db.ExecContext(ctx, `UPDATE replicas SET heartbeat_at = heartbeat_at - 120000 WHERE id = 'r-c'`)
		must(t, err)
		must(t, st.Heartbeat(ctx, "r-a"))
		live, err := st.LiveReplicas(ctx, time.Minute)
		must(t, err)
		var ids []string
		for _, r := range live {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff([]string{"r-a", "r-b"}, ids); diff != "" {
			t.Errorf("live (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"r-b/cluster", "r-a/node"}, holders()); diff != "" {
			t.Errorf("holders with r-c dead (-want +got):\n%s", diff)
		}
		gone, err := st.ForgetReplicas(ctx, time.Minute)
		must(t, err)
		if diff := cmp.Diff([]string{"r-c"}, gone); diff != "" {
			t.Errorf("forgotten (-want +got):\n%s", diff)
		}
		if err := st.Heartbeat(ctx, "r-c"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a forgotten replica's beat: %v, want ErrNotFound", err)
		}
		var n int
		must(t, st.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cluster_tunnels WHERE replica_id = 'r-c'`).Scan(&n))
		if n != 0 {
			t.Errorf("a forgotten replica's tunnels: %d rows", n)
		}
		must(t, st.SetTunnels(ctx, "r-b", "c-1", "cluster", 0, now))
		must(t, st.ClearTunnels(ctx, "r-a"))
		if got := holders(); len(got) != 0 {
			t.Errorf("holders after they left: %v", got)
		}
	})
}

// TestIdentityFirstWins: replicas racing to store the first value all get
// the same one; a swap from a stale value fails.
func TestIdentityFirstWins(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		if _, err := st.Identity(ctx, "ca"); !errors.Is(err, ErrNotFound) {
			t.Errorf("no identity yet: %v", err)
		}
		got := make([]string, 8)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				v, err := st.PutIdentityIfAbsent(ctx, "ca", []byte{byte('a' + i)}, time.Now())
				if err != nil {
					t.Error(err)
				}
				got[i] = string(v)
			})
		}
		wg.Wait()
		for _, v := range got {
			if v != got[0] || v == "" {
				t.Fatalf("replicas got different values: %q", got)
			}
		}
		if ok, err := st.SwapIdentity(ctx, "ca", []byte("stale"), []byte("new"), time.Now()); ok || err != nil {
			t.Errorf("swap from a stale value: %v, %v", ok, err)
		}
		if ok, err := st.SwapIdentity(ctx, "ca", []byte(got[0]), []byte("new"), time.Now()); !ok || err != nil {
			t.Errorf("swap: %v, %v", ok, err)
		}
	})
}
