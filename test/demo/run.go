package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/test/realcluster"
)

// importTimeout bounds the import (kubectl apply until every agent pod is
// Ready and the tunnels are up).
const importTimeout = 3 * time.Minute

// run starts everything, prints the instructions to out and waits for ctx
// to end; whatever it started is stopped when it returns, also on error.
func run(ctx context.Context, o *Options, out io.Writer, log *slog.Logger) (err error) {
	// Before anything else (the directory of an earlier run is root's).
	if err := realcluster.CheckRoot(); err != nil {
		return err
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		return fmt.Errorf("wipe %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}

	log.Info("building drover-server, drover-agent and the images; starting a cluster with two real nodes and the server")
	e, err := realcluster.Start(ctx, realcluster.Options{Dir: o.Dir, Name: "demo", Port: o.Port, Logger: log,
		ServerArgs: []string{"--log-level", o.LogLevel}, Replicas: o.Replicas})
	if err != nil {
		return err // Start stopped what it had started
	}
	defer func() {
		log.Info("stopping the server and the cluster")
		if stopErr := e.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		log.Info("stopped")
	}()
	direct := kubernetes.NewForConfigOrDie(e.Cluster.RESTConfig())

	log.Info("importing the cluster: kubectl apply of its import manifest, then the agent pods", "nodes", e.Cluster.NodeNames)
	ictx, cancel := context.WithTimeout(ctx, importTimeout)
	im, err := e.Import(ictx, "demo")
	cancel()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	log.Info("imported", "cluster", im.ID, "podsReadyAfterApply", im.Ready.Round(time.Millisecond))
	if err := createHello(ctx, direct); err != nil {
		return err
	}

	log.Info("enabling the authorized cluster endpoint")
	if err := e.Server.Do(ctx, http.MethodPut, "/v3/clusters/"+im.ID+"/auth-endpoint", e.Admin,
		map[string]string{"url": e.Cluster.URL, "caCert": string(e.Cluster.CAData)}, nil); err != nil {
		return fmt.Errorf("enable the authorized endpoint: %w", err)
	}
	kubeconfig := filepath.Join(o.Dir, "kubeconfig")
	if err := e.Kubeconfig(ctx, im.ID, o.KubeconfigTTL.String(), kubeconfig); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	ace, err := aceContext(kubeconfig)
	if err != nil {
		return err
	}
	log.Info("creating the read-only user viewer")
	view, err := addViewer(ctx, e.Server, e.Admin, im.ID, o.Dir, o.KubeconfigTTL)
	if err != nil {
		return err
	}
	log.Info("waiting for the apiserver to take the Drover token", "context", ace)
	if err := waitACE(ctx, kubeconfig, ace); err != nil {
		return err
	}
	log.Info("waiting for deployment hello to be Available")
	if err := waitHelloAvailable(ctx, direct); err != nil {
		return err
	}

	p := printed{
		ServerURL: e.Server.URL, AdminPassword: e.Server.AdminPassword, ClusterID: im.ID, Nodes: e.Cluster.NodeNames,
		Kubeconfig: kubeconfig, ACEContext: ace, Viewer: view, Direct: e.Direct,
		CA: filepath.Join(e.Server.DataDir, "tls", "ca.crt"), Dir: o.Dir, ServerLog: filepath.Join(e.Server.DataDir, "server.log"),
		CopyFile: filepath.Join(o.Dir, "hello.txt"), CopyBack: filepath.Join(o.Dir, "hello-back.txt"),
	}
	if err := os.WriteFile(p.CopyFile, []byte("copied into the pod and back with kubectl cp\n"), 0o600); err != nil {
		return err
	}
	if p.LocalPort, err = localPort(); err != nil {
		return err
	}
	if len(e.Replicas) > 0 {
		if p.Replicas, err = writeReplicas(filepath.Join(o.Dir, "replicas"), e); err != nil {
			return err
		}
		p.NReplicas = len(e.Replicas)
	}
	p.print(out)

	// With replicas the demo runs until the signal, whichever of them are
	// killed.
	var serverDone <-chan struct{}
	if len(e.Replicas) == 0 {
		serverDone = e.Server.Done()
	}
	select {
	case <-ctx.Done():
		log.Info("signal received")
		return nil
	case <-serverDone:
		_, exitErr := e.Server.Exited()
		return fmt.Errorf("drover-server exited: %v (log %s)", exitErr, e.Server.LogPath)
	}
}

// writeReplicas writes one line per replica, "<pid> <https URL>", and
// returns the file's path.
func writeReplicas(path string, e *realcluster.Env) (string, error) {
	var b strings.Builder
	for _, r := range e.Replicas {
		fmt.Fprintf(&b, "%d %s\n", r.PID(), r.URL)
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}
