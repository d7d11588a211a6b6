package store

import (
	"context"
	"testing"
	"time"
)

// TestLeases: one holder at a time; an expired lease goes to the next
// with a higher fence; the old holder can neither renew it nor write
// under it; a released lease is free at once.
func TestLeases(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		must(t, st.CreateCluster(ctx, Cluster{ID: "c-1", Name: "one"}))
		a, ok, err := st.AcquireLease(ctx, "controller/c-1", "i-a", time.Minute)
		if err != nil || !ok || a.Fence != 1 {
			t.Fatalf("first acquire: %+v %v %v", a, ok, err)
		}
		if _, ok, err := st.AcquireLease(ctx, "controller/c-1", "i-b", time.Minute); ok || err != nil {
			t.Fatalf("a held lease taken: %v %v", ok, err)
		}
		if ok, err := st.RenewLease(ctx, a, time.Minute); !ok || err != nil {
			t.Fatalf("renew: %v %v", ok, err)
		}
		if ok, err := st.SaveClusterStatusFenced(ctx, "c-1", []byte(`{"by":"a"}`), time.Now(), a); !ok || err != nil {
			t.Fatalf("fenced write of the holder: %v %v", ok, err)
		}
		// a pauses past its lease.
		_, err = st.db.ExecContext(ctx, `UPDATE leases SET expires_at = expires_at - 120000`)
		must(t, err)
		b, ok, err := st.AcquireLease(ctx, "controller/c-1", "i-b", time.Minute)
		if err != nil || !ok || b.Fence != 2 {
			t.Fatalf("acquire of an expired lease: %+v %v %v", b, ok, err)
		}
		if ok, err := st.RenewLease(ctx, a, time.Minute); ok || err != nil {
			t.Errorf("the old holder renewed: %v %v", ok, err)
		}
		if ok, err := st.SaveClusterStatusFenced(ctx, "c-1", []byte(`{"by":"a, late"}`), time.Now(), a); ok || err != nil {
			t.Errorf("the old holder wrote: %v %v", ok, err)
		}
		if ok, err := st.SaveClusterStatusFenced(ctx, "c-1", []byte(`{"by":"b"}`), time.Now(), b); !ok || err != nil {
			t.Errorf("the new holder's write: %v %v", ok, err)
		}
		var status string
		must(t, st.db.QueryRowContext(ctx, `SELECT status FROM cluster_status WHERE cluster_id = 'c-1'`).Scan(&status))
		if status != `{"by":"b"}` {
			t.Errorf("status %s", status)
		}
		must(t, st.ReleaseLease(ctx, a)) // not a's any more: nothing happens
		if _, ok, _ := st.AcquireLease(ctx, "controller/c-1", "i-c", time.Minute); ok {
			t.Error("a stale release freed the lease")
		}
		must(t, st.ReleaseLease(ctx, b))
		if c, ok, err := st.AcquireLease(ctx, "controller/c-1", "i-c", time.Minute); !ok || err != nil || c.Fence != 3 {
			t.Errorf("acquire after release: %+v %v %v", c, ok, err)
		}
	})
}
