package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestProvisioning(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

		if err := st.CreateDriver(ctx, Driver{Name: "gke", URL: "https://x/gke", Checksum: "ab", Address: "port", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateDriver(ctx, Driver{Name: "gke"}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate driver: %v", err)
		}
		if ds, err := st.ListDrivers(ctx); err != nil || len(ds) != 1 || ds[0].URL != "https://x/gke" || !ds[0].CreatedAt.Equal(now) {
			t.Errorf("ListDrivers = %+v, %v", ds, err)
		}

		c := Cluster{ID: "c-1", Name: "prov", CreatedAt: now}
		p := Provisioning{Driver: "gke", Op: "create", Phase: "provisioning", Config: []byte("sealed-config"), UpdatedAt: now}
		if err := st.CreateProvisionedCluster(ctx, c, p); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateProvisionedCluster(ctx, Cluster{ID: "c-2", Name: "prov"}, p); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate name: %v", err)
		}
		if _, err := st.Cluster(ctx, "c-2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a failed create left cluster c-2 behind: %v", err)
		}
		got, err := st.Provisioning(ctx, "c-1")
		if err != nil || got.Generation != 1 || got.Op != "create" || string(got.Config) != "sealed-config" || got.Info != nil {
			t.Fatalf("Provisioning = %+v, %v", got, err)
		}
		if err := st.DeleteDriver(ctx, "gke"); !errors.Is(err, ErrConflict) {
			t.Errorf("deleting a driver in use: %v", err)
		}
		if err := st.SaveProvisioningInfo(ctx, "c-1", []byte("sealed-info")); err != nil {
			t.Fatal(err)
		}
		// A newer request wins over the end of an older operation.
		gen, err := st.RequestProvisioning(ctx, "c-1", "remove", "removing", "", nil, now)
		if err != nil || gen != 2 {
			t.Fatalf("RequestProvisioning = %d, %v", gen, err)
		}
		if ok, err := st.SetProvisioningStatus(ctx, "c-1", 1, "", "waiting-for-agent", "", nil, now); ok || err != nil {
			t.Errorf("stale status write: %v, %v", ok, err)
		}
		if ok, err := st.SetProvisioningStatus(ctx, "c-1", 2, "remove", "error", "failed", []byte("sealed-err"), now); !ok || err != nil {
			t.Errorf("current status write: %v, %v", ok, err)
		}
		got, _ = st.Provisioning(ctx, "c-1")
		if got.Phase != "error" || string(got.Error) != "sealed-err" || string(got.Info) != "sealed-info" || string(got.Config) != "sealed-config" {
			t.Errorf("after status: %+v", got)
		}
		if _, err := st.RequestProvisioning(ctx, "c-1", "update", "updating", "", []byte("new-config"), now); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Provisioning(ctx, "c-1")
		if got.Error != nil || string(got.Config) != "new-config" || got.Generation != 3 {
			t.Errorf("after update request: %+v", got)
		}
		if _, err := st.RequestProvisioning(ctx, "c-9", "update", "updating", "", nil, now); !errors.Is(err, ErrNotFound) {
			t.Errorf("request on a missing cluster: %v", err)
		}
		// Deleting the cluster deletes its provisioning; then the driver goes.
		if err := st.DeleteCluster(ctx, "c-1"); err != nil {
			t.Fatal(err)
		}
		if ps, err := st.ListProvisioning(ctx); err != nil || len(ps) != 0 {
			t.Errorf("ListProvisioning after delete = %v, %v", ps, err)
		}
		if err := st.DeleteDriver(ctx, "gke"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteDriver(ctx, "gke"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
	})
}
