package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/snapshot"
	utlsnapshot "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/drover-dev/drover/pkg/driver/sdk"
)

func (c *cluster) snapshotPath(name string) (string, error) {
	if err := sdk.CheckSnapshotName(name); err != nil {
		return "", err
	}
	return c.path("snapshots", name+".db"), nil
}

// ETCDSave streams a snapshot from the running etcd (etcd's snapshot API)
// into snapshots/<name>.db, replacing one of that name.
func (d *localDriver) ETCDSave(ctx context.Context, info *sdk.ClusterInfo, _ *sdk.DriverOptions, name string) error {
	c, err := clusterOf(info)
	if err != nil {
		return err
	}
	path, err := c.snapshotPath(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.path("snapshots"), 0o700); err != nil {
		return err
	}
	tmp := path + ".part"
	os.Remove(tmp)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := snapshot.SaveWithVersion(ctx, zap.NewNop(), clientv3.Config{
		Endpoints: []string{c.etcdURL()}, DialTimeout: 5 * time.Second,
	}, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save etcd snapshot: %w", err)
	}
	return os.Rename(tmp, path)
}

// ETCDRestore stops the apiserver and etcd, restores etcd's data directory
// from the snapshot (as `etcdutl snapshot restore` does: a new member of a
// one-member cluster, the revision bumped and marked compacted so that
// watchers relist), and starts both again on the same ports.
func (d *localDriver) ETCDRestore(ctx context.Context, info *sdk.ClusterInfo, _ *sdk.DriverOptions, name string) (*sdk.ClusterInfo, error) {
	c, err := clusterOf(info)
	if err != nil {
		return nil, err
	}
	path, err := c.snapshotPath(name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no snapshot named %q", name)
	}
	restored := c.path("etcd.restore")
	if err := os.RemoveAll(restored); err != nil {
		return nil, err
	}
	// Restore first, into a new directory: a bad snapshot leaves the
	// running cluster alone.
	if err := utlsnapshot.NewV3(zap.NewNop()).Restore(utlsnapshot.RestoreConfig{
		SnapshotPath: path, Name: "local", OutputDataDir: restored,
		PeerURLs: []string{c.peerURL()}, InitialCluster: "local=" + c.peerURL(), InitialClusterToken: c.Name,
		RevisionBump: 1_000_000_000, MarkCompacted: true,
	}); err != nil {
		os.RemoveAll(restored)
		return nil, fmt.Errorf("restore etcd snapshot: %w", err)
	}
	// The data is about to be replaced: no need to let the apiserver drain.
	if err := errors.Join(c.stop("kube-apiserver", time.Second), c.stop("etcd", 10*time.Second)); err != nil {
		return nil, err
	}
	old := c.path("etcd.old")
	if err := os.RemoveAll(old); err != nil {
		return nil, err
	}
	if err := os.Rename(c.path("etcd"), old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(restored, c.path("etcd")); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	os.RemoveAll(old)
	return d.info(c, info)
}

// ETCDRemoveSnapshot deletes snapshots/<name>.db.
func (d *localDriver) ETCDRemoveSnapshot(ctx context.Context, info *sdk.ClusterInfo, _ *sdk.DriverOptions, name string) error {
	c, err := clusterOf(info)
	if err != nil {
		return err
	}
	path, err := c.snapshotPath(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no snapshot named %q", name)
	} else if err != nil {
		return err
	}
	return nil
}
