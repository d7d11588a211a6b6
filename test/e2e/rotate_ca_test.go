package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// TestRotateCA rotates the CA of a server with a cluster agent connected,
// a login session, a kubeconfig and the drover command's pin, all made
// before the rotation (docs/operations.md, "Rotating the CA"): after
// prepare all of them work and a new kubeconfig trusts both CAs; an agent
// restarted then reconnects; after finish the agent, the login session, the
// new kubeconfig and the drover command work, and the old kubeconfig is
// refused for the reason the docs name.
func TestRotateCA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(10 * time.Second) })
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	id, reg, err := srv.CreateCluster(ctx, admin, "rotate")
	if err != nil {
		t.Fatal(err)
	}
	agentOpts := harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: dir, ServerURL: srv.URL, CAChecksum: reg.CAChecksum, Token: reg.Token,
		Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
	}
	agent, err := harness.StartAgent(agentOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Stop(5 * time.Second) })
	if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	kubeconfigOf := func(s *harness.Server, name string) string {
		t.Helper()
		kc, err := s.Kubeconfig(ctx, admin, []string{id}, "1h")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		writeFile(t, p, kc)
		return p
	}
	oldKC := kubeconfigOf(srv, "old-kubeconfig")
	cliDir := filepath.Join(dir, "drover")
	drover := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runBinary(t, shared.bins.CLI, stdin, append([]string{"--config-dir", cliDir}, args...)...)
	}
	if code, _, stderr := drover(srv.AdminPassword+"\n", "login", srv.URL, "--ca-checksum", srv.CAChecksum,
		"--username", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("drover login: exit %d: %s", code, stderr)
	}
	works := func(step string, s *harness.Server, kubeconfigs ...string) {
		t.Helper()
		if err := s.WaitConnected(ctx, admin, id, "cluster"); err != nil {
			t.Fatalf("%s: the agent: %v", step, err)
		}
		for _, kc := range kubeconfigs {
			if _, err := kubectl(ctx, t, kc, "get", "ns", "default"); err != nil {
				t.Errorf("%s: kubectl with %s: %v", step, filepath.Base(kc), err)
			}
		}
		if err := s.Do(ctx, http.MethodGet, "/v3/users/me", admin, nil, nil); err != nil {
			t.Errorf("%s: the login session: %v", step, err)
		}
		if code, _, stderr := drover("", "whoami"); code != 0 {
			t.Errorf("%s: drover whoami: exit %d: %s", step, code, stderr)
		}
	}
	rotate := func(step string) *harness.Server {
		t.Helper()
		srv.Stop(10 * time.Second)
		code, out, errs := runBinary(t, shared.bins.Server, "", "rotate-ca", step, "--data-dir", srv.DataDir)
		if code != 0 {
			t.Fatalf("rotate-ca %s: exit %d\n%s%s", step, code, out, errs)
		}
		s, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: srv.DataDir, Listen: srv.Listen})
		if err != nil {
			t.Fatal(err)
		}
		srv = s
		return s
	}

	// Prepare: the server still serves the old CA's certificate.
	old := srv.CAChecksum
	prepared := rotate("prepare")
	if prepared.CAChecksum != old {
		t.Fatalf("prepare changed the CA to %s", prepared.CAChecksum)
	}
	works("prepared", prepared, oldKC)
	// A kubeconfig downloaded now trusts both CAs (it replaces the old
	// one's token: the old kubeconfig is kept for its CA only).
	newKC := kubeconfigOf(prepared, "new-kubeconfig")
	if n := strings.Count(readFile(t, newKC), "certificate-authority-data"); n != 1 {
		t.Fatalf("%d clusters in the new kubeconfig", n)
	}
	works("prepared, new kubeconfig", prepared, newKC)
	// An agent (re)started now pins the old CA as its manifest says.
	agent.Stop(5 * time.Second)
	if agent, err = harness.StartAgent(agentOpts); err != nil {
		t.Fatal(err)
	}
	works("prepared, agent restarted", prepared)

	// Finish: the new CA's certificate.
	finished := rotate("finish")
	if finished.CAChecksum == old {
		t.Fatal("finish kept the old CA")
	}
	works("finished", finished, newKC)
	_, err = kubectl(ctx, t, oldKC, "get", "ns", "default")
	if err == nil || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Errorf("the old kubeconfig after the rotation: %v; want x509: certificate signed by unknown authority", err)
	}
	// An agent started after the rotation with the old checksum follows
	// the CA lineage.
	agent.Stop(5 * time.Second)
	if agent, err = harness.StartAgent(agentOpts); err != nil {
		t.Fatal(err)
	}
	works("finished, agent restarted", finished)
	// The drover command now pins the new CA only: its kubeconfigs too.
	code, stdout, stderr := drover("", "kubeconfig")
	if code != 0 {
		t.Fatalf("drover kubeconfig: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "certificate-authority-data") {
		t.Errorf("drover kubeconfig: %s", stdout)
	}
}
