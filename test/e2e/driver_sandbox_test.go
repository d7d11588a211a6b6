package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/harness"
)

// needRoot fails t unless the test runs as root (the machine and CI do):
// only a root server sandboxes drivers.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: only a server running as root runs drivers sandboxed; run the e2e tests as root")
	}
}

// hostileReport is test/hostiledriver's report.
type hostileReport struct {
	UID        int
	GID        int
	Groups     []int
	CapEff     string
	NoNewPrivs string
	Foreign    []string
	Setuid0    hostileProbe
	Reads      map[string]hostileProbe
	Writes     map[string]hostileProbe
	Signals    map[string]hostileProbe
}

type hostileProbe struct {
	OK    bool
	Errno string
	Err   string
}

// TestDriverSandbox: the real server, as root, runs test/hostiledriver
// (through the provisioning flow: its Create gets the targets in the
// cluster's config) and the driver tries to read the server's session
// keys, sealing key (here outside the data directory, as
// --secrets-key-file allows), database, TLS key, audit log and its own log,
// by their paths and through /proc/<server pid>/ (environ, cmdline, fd and
// every open file in it, root, cwd, mem): every read fails. It cannot write
// there or into its own binary, signal the server or become root again; it
// runs as the driver user with no capability. Every file the server wrote
// into its data directory is 0600 and every directory 0700.
func TestDriverSandbox(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	driverDir := filepath.Join(dir, "drivers")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(driverDir, "driver-hostile"), "./test/hostiledriver")
	build.Dir = harness.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the hostile driver: %v\n%s", err, out)
	}
	// The sealing key in a directory everyone may enter.
	keyDir, err := os.MkdirTemp("", "drover-e2e-keys-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keyDir) })
	if err := os.Chmod(keyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "server")
	keyFile := filepath.Join(keyDir, "secrets.key")
	stateDir := data + "-drivers"
	t.Cleanup(func() { killMentioning(stateDir) })
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: data,
		Args: []string{"--driver-dir", driverDir, "--secrets-key-file", keyFile, "--audit-log", filepath.Join(data, "audit.log")}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(10 * time.Second)
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	var view map[string]any
	if err := srv.Do(ctx, http.MethodGet, "/v3/drivers/hostile", admin, nil, &view); err != nil {
		t.Fatal(err)
	}
	if view["sandboxed"] != true {
		t.Fatalf("GET /v3/drivers/hostile = %v; want sandboxed: true", view)
	}

	pid := srv.PID()
	proc := "/proc/" + strconv.Itoa(pid)
	denied := []string{
		filepath.Join(data, "session-keys.json"), keyFile, filepath.Join(data, "drover.db"), filepath.Join(data, "drover.db-wal"),
		filepath.Join(data, "tls", "tls.key"), filepath.Join(data, "tls", "ca.key"), filepath.Join(data, "audit.log"),
		filepath.Join(data, "drivers", "logs", "hostile.log"), data,
		proc + "/environ", proc + "/cmdline", proc + "/fd", proc + "/cwd", proc + "/mem", proc + "/maps",
		proc + "/root" + filepath.Join(data, "session-keys.json"), proc + "/root" + keyFile, proc + "/root" + filepath.Join(data, "drover.db"),
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		denied = append(denied, proc+"/fd/"+fd.Name())
	}
	noWrite := []string{filepath.Join(data, "x"), filepath.Join(data, "drover.db"), keyFile, "$EXE", "$RUNDIR/x"}
	config := map[string]any{
		"read":   strings.Join(append(denied, "$HOME", "$EXE"), "\n"),
		"write":  strings.Join(append(noWrite, "$HOME/x"), "\n"),
		"signal": strconv.Itoa(pid),
	}
	if err := srv.Do(ctx, http.MethodPost, "/v3/clusters", admin, map[string]any{"name": "probe", "driver": "hostile", "config": config}, nil); err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(stateDir, "home", "hostile", "report.json")
	var b []byte
	for {
		if b, err = os.ReadFile(reportFile); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no report from the hostile driver: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var rep hostileReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report %s: %v", b, err)
	}
	got := rep
	got.Reads, got.Writes, got.Signals, got.Setuid0.Err = nil, nil, nil, ""
	want := hostileReport{UID: driverUID, GID: driverUID, Groups: []int{}, CapEff: "0000000000000000", NoNewPrivs: "1",
		Foreign: []string{}, Setuid0: hostileProbe{Errno: "EPERM"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the driver's identity (-want +got):\n%s", diff)
	}
	checkHostile(t, "read", rep.Reads, denied, []string{"$HOME", "$EXE"}, "EACCES", "ENOENT")
	checkHostile(t, "write", rep.Writes, noWrite, []string{"$HOME/x"}, "EACCES", "EROFS", "ENOENT")
	if p := rep.Signals[strconv.Itoa(pid)]; p.OK || p.Errno != "EPERM" {
		t.Errorf("signal 0 to the server: %+v; want EPERM", p)
	}
	checkPrivate(t, data)
}

// checkHostile wants every denied probe failed with one of errnos and every
// allowed one done.
func checkHostile(t *testing.T, what string, got map[string]hostileProbe, denied, allowed []string, errnos ...string) {
	t.Helper()
	for _, p := range denied {
		r, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s %s: not probed", what, p)
		case r.OK:
			t.Errorf("%s %s: the driver could", what, p)
		case !strings.Contains(" "+strings.Join(errnos, " ")+" ", " "+r.Errno+" "):
			t.Errorf("%s %s: failed with %s (%s), want one of %v", what, p, r.Errno, r.Err, errnos)
		}
	}
	for _, p := range allowed {
		if r := got[p]; !r.OK {
			t.Errorf("%s %s: %+v; the driver must be able to", what, p, r)
		}
	}
}

// checkPrivate: everything in the server's data directory is its alone.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := os.FileMode(0o600)
		if e.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want || st.Uid != 0 {
			t.Errorf("%s: mode %v, owner %d; want %v, root", p, fi.Mode().Perm(), st.Uid, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDriverRefusedWithoutRoot: a server that is not root (here uid 65534;
// the Helm chart's pod is not root either) cannot sandbox drivers. It says
// so ("sandboxed": false), refuses to read a driver's schema, to install
// one and to create a cluster with one (409 naming
// --allow-unsandboxed-drivers), and keeps serving. With that flag it runs
// them, still marked unsandboxed.
func TestDriverRefusedWithoutRoot(t *testing.T) {
	needRoot(t) // to start the server as another user
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const nobody = 65534
	base, err := os.MkdirTemp("", "drover-e2e-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin := filepath.Join(base, "drover-server")
	b, err := os.ReadFile(shared.bins.Server)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	driverDir := filepath.Join(base, "drivers")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(driverDir, "driver-hostile"), "./test/hostiledriver")
	build.Dir = harness.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the hostile driver: %v\n%s", err, out)
	}
	data := filepath.Join(base, "server")
	for _, d := range []string{base, driverDir, data, data + "-drivers"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{data, data + "-drivers"} {
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	start := func(args ...string) *harness.Server {
		srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: bin, DataDir: data, Args: append([]string{"--driver-dir", driverDir}, args...),
			Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	password := srv.AdminPassword
	admin, err := srv.Login(ctx, "admin", password)
	if err != nil {
		t.Fatal(err)
	}
	checkSandboxed := func(srv *harness.Server, admin string) {
		t.Helper()
		var list struct{ Items []map[string]any }
		if err := srv.Do(ctx, http.MethodGet, "/v3/drivers", admin, nil, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0]["name"] != "hostile" || list.Items[0]["sandboxed"] != false {
			t.Errorf("GET /v3/drivers = %v; want the hostile driver, \"sandboxed\": false", list.Items)
		}
	}
	checkSandboxed(srv, admin)
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v3/drivers/hostile/schema", nil},
		{http.MethodPost, "/v3/drivers", map[string]string{"name": "other", "url": "https://127.0.0.1:1/driver", "checksum": strings.Repeat("ab", 32)}},
		{http.MethodPost, "/v3/clusters", map[string]any{"name": "c1", "driver": "hostile"}},
	} {
		var apiErr *harness.APIError
		err := srv.Do(ctx, tc.method, tc.path, admin, tc.body, nil)
		if !errors.As(err, &apiErr) || apiErr.Code != http.StatusConflict || !strings.Contains(apiErr.Body, "--allow-unsandboxed-drivers") ||
			!strings.Contains(apiErr.Body, "uid 65534") {
			t.Errorf("%s %s: %v; want 409 naming --allow-unsandboxed-drivers", tc.method, tc.path, err)
		}
	}
	if err := srv.Do(ctx, http.MethodGet, "/v3/drivers", admin, nil, nil); err != nil {
		t.Errorf("the server after the refusals: %v", err)
	}
	srv.Stop(10 * time.Second)

	srv = start("--allow-unsandboxed-drivers")
	defer srv.Stop(10 * time.Second)
	if admin, err = srv.Login(ctx, "admin", password); err != nil {
		t.Fatal(err)
	}
	checkSandboxed(srv, admin)
	if err := srv.Do(ctx, http.MethodGet, "/v3/drivers/hostile/schema", admin, nil, nil); err != nil {
		t.Errorf("schema with --allow-unsandboxed-drivers: %v", err)
	}
}
