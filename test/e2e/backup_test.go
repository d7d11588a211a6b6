package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// TestBackupRestore backs up a running server of its own, with its
// cluster agent connected and a user's kubeconfig and login session in
// use, while the server keeps serving; then the machine is lost: the
// server stops, and a fresh data directory on the same address is restored
// from the backup. The agent reconnects by itself (same CA, same
// registration), the old kubeconfig and login session work against it,
// and the restored server printed no new admin password.
func TestBackupRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	own := startOwnServer(ctx, t, dir, "backup")
	srv, admin, id, reg := own.srv, own.admin, own.id, own.reg
	kc, err := srv.Kubeconfig(ctx, admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	writeFile(t, kcPath, kc)
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default"); err != nil {
		t.Fatal(err)
	}

	backup := filepath.Join(dir, "drover.backup")
	code, out, errs := runBinary(t, shared.bins.Server, "", "backup", "--data-dir", srv.DataDir, "--out", backup)
	if code != 0 || !strings.Contains(errs, "keep it safe") {
		t.Fatalf("backup of the running server: exit %d\n%s%s", code, out, errs)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup file: %v %v", fi, err)
	}
	// The server went on serving while it was backed up.
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default"); err != nil {
		t.Fatalf("kubectl after the backup: %v", err)
	}

	// The machine is lost.
	srv.Stop(10 * time.Second)
	fresh := filepath.Join(t.TempDir(), "restored")
	code, out, errs = runBinary(t, shared.bins.Server, "", "restore", "--data-dir", fresh, "--from", backup)
	if code != 0 || !strings.Contains(out, "Restored") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runBinary(t, shared.bins.Server, "", "restore", "--data-dir", fresh, "--from", backup); code == 0 ||
		!strings.Contains(errs, "fresh data directory") {
		t.Errorf("a second restore over the first: exit %d, %s", code, errs)
	}
	restored, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: fresh, Listen: srv.Listen})
	if err != nil {
		t.Fatal(err)
	}
	own.srv = restored // stopped at the test's end
	if restored.AdminPassword != "" || restored.CAChecksum != reg.CAChecksum {
		t.Errorf("the restored server: a new admin password %v, CA checksum %s (want %s)", restored.AdminPassword != "", restored.CAChecksum, reg.CAChecksum)
	}
	// The old login session, the agent and the kubeconfig.
	if err := restored.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatalf("the agent against the restored server: %v", err)
	}
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default"); err != nil {
		t.Fatalf("the old kubeconfig against the restored server: %v", err)
	}
	if err := restored.Do(ctx, http.MethodGet, "/v3/users/me", admin, nil, nil); err != nil {
		t.Errorf("the old login session against the restored server: %v", err)
	}
}

// ownServer is a server of a test's own (the shared one must stay up for
// the other tests) with a cluster name whose cluster agent is connected.
// Both stop when the test ends (o.srv: whichever server the test ends up
// with).
type ownServer struct {
	srv   *harness.Server
	admin string // an admin login session
	id    string // the cluster
	reg   harness.Registration
}

func startOwnServer(ctx context.Context, t *testing.T, dir, name string, args ...string) *ownServer {
	t.Helper()
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server"), Args: args})
	if err != nil {
		t.Fatal(err)
	}
	o := &ownServer{srv: srv}
	t.Cleanup(func() { o.srv.Stop(10 * time.Second) })
	if o.admin, err = srv.Login(ctx, "admin", srv.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if o.id, o.reg, err = srv.CreateCluster(ctx, o.admin, name); err != nil {
		t.Fatal(err)
	}
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: dir, ServerURL: srv.URL, CAChecksum: o.reg.CAChecksum, Token: o.reg.Token,
		Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Stop(5 * time.Second) })
	if err := srv.WaitConnected(ctx, o.admin, o.id, "cluster"); err != nil {
		t.Fatal(err)
	}
	return o
}
