// Package e2e runs Drover end to end: the real server and agent binaries as
// processes, a real kube-apiserver and etcd (package testbed), and the
// machine's kubectl, the way a user would.
//
// Its clusters have no nodes, so an agent here is a process, never a pod.
// What the agents do as the import manifest's pods (the import itself, a
// token rotation reaching them, the cluster agent deleted, frozen or its
// node stopped, kube-api-auth as the apiserver's webhook with the server
// down) is tested in test/realnodes, and not again here. The agent
// processes left are of two kinds only: a tunnel for tests whose subject
// is the server (the proxy, authentication, access, impersonation, limits,
// the server killed or restarted, the apiserver restarted, the README
// quickstart run as written), and agents no manifest would run (a wrong
// CA checksum or token, a node name already taken, a deleted cluster's
// agents, a rotated-out token, the dial policy tried with addresses the
// server should never ask for).
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// env is shared by the tests of this package: one downstream cluster, one
// server, one cluster agent. Tests that break things start their own.
type env struct {
	bins       harness.Binaries
	cluster    *testbed.Cluster
	server     *harness.Server
	agent      *harness.Process
	adminToken string
	clusterID  string
	dir        string
	metricsURL string // the server's /metrics
}

var shared *env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "drover-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, err := setup(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		if e != nil {
			e.teardown()
		}
		fmt.Fprintln(os.Stderr, "logs kept in", dir)
		return 1
	}
	shared = e
	code := m.Run()
	e.teardown()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "logs kept in", dir)
	}
	return code
}

func setup(ctx context.Context, dir string) (*env, error) {
	e := &env{dir: dir}
	var err error
	if e.bins, err = harness.Build(ctx, filepath.Join(dir, "bin"), raceEnabled); err != nil {
		return nil, err
	}
	if e.cluster, err = testbed.Start(ctx, testbed.Options{Name: "e2e", Logger: slog.New(slog.DiscardHandler)}); err != nil {
		return e, err
	}
	if err = e.cluster.WriteKubeconfig(filepath.Join(dir, "direct-kubeconfig")); err != nil {
		return e, err
	}
	maddr, err := harness.FreeAddr()
	if err != nil {
		return e, err
	}
	e.metricsURL = "http://" + maddr + "/metrics"
	if e.server, err = harness.StartServer(ctx, harness.ServerOptions{Bin: e.bins.Server, DataDir: filepath.Join(dir, "server"),
		Args: []string{"--audit-log", filepath.Join(dir, "audit.log"), "--metrics-listen", maddr,
			"--plugin-token-ttl", pluginTTL.String()}}); err != nil {
		return e, err
	}
	if e.adminToken, err = e.server.Login(ctx, "admin", e.server.AdminPassword); err != nil {
		return e, fmt.Errorf("admin login: %w", err)
	}
	var reg harness.Registration
	if e.clusterID, reg, err = e.server.CreateCluster(ctx, e.adminToken, "e2e"); err != nil {
		return e, err
	}
	if e.agent, err = harness.StartAgent(harness.AgentOptions{
		Bin: e.bins.Agent, Dir: filepath.Join(dir, "agent"), ServerURL: e.server.URL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: filepath.Join(dir, "direct-kubeconfig"),
		Kind: "cluster",
	}); err != nil {
		return e, err
	}
	if err := e.server.WaitConnected(ctx, e.adminToken, e.clusterID, "cluster"); err != nil {
		return e, err
	}
	return e, nil
}

func (e *env) teardown() {
	if e.agent != nil {
		e.agent.Stop(5 * time.Second)
	}
	if e.server != nil {
		e.server.Stop(10 * time.Second)
	}
	if e.cluster != nil {
		e.cluster.Stop()
	}
}
