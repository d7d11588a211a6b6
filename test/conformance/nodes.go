package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/realcluster"
)

// startNodes is start for the real-node part (-nodes): it builds the
// upstream e2e images, starts a cluster with two real nodes and a server
// (package realcluster, as the real-node tests and `make demo` do: the
// images imported into each node's containerd, nothing pulled), imports
// the cluster as a user does (the agents run as pods), and returns the
// two kubeconfigs by path: the cluster's admin straight, the Drover
// admin's through Drover.
func (e *env) startNodes(ctx context.Context, o *Options, log *slog.Logger) (map[string]string, error) {
	kubeSrc, err := kubeSource(ctx, harness.RepoRoot())
	if err != nil {
		return nil, err
	}
	log.Info("building the e2e images", "agnhost", o.Agnhost, "busybox", o.Busybox, "source", kubeSrc)
	archives, err := buildE2EImages(ctx, imageSources{E2ETest: o.E2ETest, Agnhost: o.Agnhost, Busybox: o.Busybox, KubeSrc: kubeSrc},
		filepath.Join(o.Dir, "e2e-images"))
	if err != nil {
		return nil, fmt.Errorf("e2e images: %w", err)
	}
	log.Info("starting a cluster with two real nodes and drover-server", "images", len(archives))
	began := time.Now()
	if e.real, err = realcluster.Start(ctx, realcluster.Options{
		Dir: o.Dir, Name: "conformance", Logger: log, Images: archives,
		ServerArgs: []string{"--log-level", o.LogLevel},
	}); err != nil {
		return nil, fmt.Errorf("start the real-node cluster: %w", err)
	}
	log.Info("cluster up", "nodes", e.real.Cluster.NodeNames, "server", e.real.Server.URL, "took", time.Since(began).Round(time.Second))
	im, err := e.real.Import(ctx, "conformance")
	if err != nil {
		return nil, fmt.Errorf("import the cluster: %w", err)
	}
	log.Info("cluster imported", "cluster", im.ID, "agents ready after", im.Ready.Round(time.Second), "node sessions", im.NodeSessions)
	drover := filepath.Join(o.Dir, "drover.kubeconfig")
	if err := e.real.Kubeconfig(ctx, im.ID, "24h", drover); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if err := checkThroughDrover(drover, im.ID); err != nil {
		return nil, err
	}
	return map[string]string{"straight": e.real.Direct, "drover": drover}, nil
}
