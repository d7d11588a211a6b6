package driver

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
)

// TestSandboxHostileDriver runs test/hostiledriver through the registry's
// launcher, as root, and has it try to read the server's secrets (this test
// process plays the server): the session keys, the sealing key, the
// database and a TLS key by their paths, and through /proc/<server pid>/
// (environ, fd, root, cwd, mem). Every read must fail. So must writing into
// the server's files or the driver's own binary, signalling the server, and
// becoming root again; what the driver may use (its HOME and TMPDIR, a
// shared directory behind a directory closed to it) must work.
//
// Some of the server's files here are readable by everyone, in a directory
// everyone may enter: only the mount namespace keeps those from the driver.
func TestSandboxHostileDriver(t *testing.T) {
	needRoot(t)
	base := t.TempDir() // 0700: closed to the driver user
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, data, map[string]os.FileMode{
		"session-keys.json": 0o600, "secrets.key": 0o600, "drover.db": 0o600, "drover.db-wal": 0o600, "tls/tls.key": 0o600,
	})
	// A careless server: a data directory and a key file open to all.
	lax, err := os.MkdirTemp("", "drover-sandbox-lax-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(lax) })
	writeFiles(t, lax, map[string]os.FileMode{"tls.key": 0o644, "data/drover.db": 0o644})
	for _, d := range []string{lax, filepath.Join(lax, "data")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// What drivers may read, behind base (closed to them).
	share := filepath.Join(base, "shared", "bin")
	writeFiles(t, share, map[string]os.FileMode{"tool": 0o755})
	if err := os.Chmod(share, 0o755); err != nil {
		t.Fatal(err)
	}
	builtins := filepath.Join(base, "builtin")
	buildHostile(t, builtins)

	r, err := New(Options{Dir: filepath.Join(data, "drivers"), StateDir: filepath.Join(base, "drivers"), BuiltinDir: builtins,
		Store: memStore{}, AnswerTimeout: 20 * time.Second, StopGrace: 300 * time.Millisecond,
		Sandbox: SandboxOptions{Share: []string{share}, Hide: []string{data, filepath.Join(lax, "tls.key"), filepath.Join(lax, "data")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if info, err := r.Get(ctx, "hostile"); err != nil || !info.Sandboxed {
		t.Fatalf("Get = %+v, %v; want a sandboxed driver", info, err)
	}
	c, err := r.Launch(ctx, "hostile")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	proc := "/proc/" + strconv.Itoa(os.Getpid())
	denied := []string{
		filepath.Join(data, "session-keys.json"), filepath.Join(data, "secrets.key"), filepath.Join(data, "drover.db"),
		filepath.Join(data, "drover.db-wal"), filepath.Join(data, "tls", "tls.key"), data, filepath.Join(data, "drivers", "logs"),
		filepath.Join(lax, "tls.key"), filepath.Join(lax, "data"), filepath.Join(lax, "data", "drover.db"),
		proc + "/environ", proc + "/cmdline", proc + "/fd", proc + "/cwd", proc + "/mem", proc + "/maps",
		proc + "/root" + filepath.Join(data, "secrets.key"), proc + "/root" + filepath.Join(data, "session-keys.json"),
		proc + "/root" + filepath.Join(data, "drover.db"), proc + "/root" + filepath.Join(lax, "tls.key"),
		"/proc/1/environ", "/proc/1/root/",
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		denied = append(denied, proc+"/fd/"+fd.Name())
	}
	allowed := []string{filepath.Join(share, "tool"), "$EXE", "$HOME", "/usr/bin"}
	noWrite := []string{filepath.Join(data, "x"), filepath.Join(lax, "data", "x"), filepath.Join(lax, "tls.key"),
		"$EXE", "$RUNDIR/x", filepath.Join(share, "x"), filepath.Join(base, "drivers", "home", "x")}
	mayWrite := []string{"$HOME/x", "$TMPDIR/x"}
	rep := probeWith(ctx, t, c, append(denied, allowed...), append(noWrite, mayWrite...), []int{os.Getpid(), 1})

	ident := report{UID: DefaultUID, GID: DefaultGID, Groups: []int{}, CapEff: "0000000000000000", NoNewPrivs: "1",
		Foreign: []string{}, Setuid0: probe{Errno: "EPERM"}}
	got := rep
	got.Reads, got.Writes, got.Signals, got.Setuid0.Err = nil, nil, nil, ""
	if diff := cmp.Diff(ident, got); diff != "" {
		t.Errorf("the driver's identity (-want +got):\n%s", diff)
	}
	checkProbes(t, "read", rep.Reads, denied, allowed, "EACCES", "ENOENT")
	checkProbes(t, "write", rep.Writes, noWrite, mayWrite, "EACCES", "EROFS", "ENOENT")
	for pid, p := range rep.Signals {
		if p.OK || p.Errno != "EPERM" {
			t.Errorf("signal 0 to pid %s: %+v; want EPERM", pid, p)
		}
	}
	// The driver's binary is the verified copy, the server's to change.
	for path, want := range map[string]os.FileMode{c.runDir: 0o750 | os.ModeDir, filepath.Join(c.runDir, "driver"): 0o550} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != want || st.Uid != 0 || st.Gid != DefaultGID {
			t.Errorf("%s: mode %v, owner %d:%d; want %v root:%d", path, fi.Mode(), st.Uid, st.Gid, want, DefaultGID)
		}
	}
}

// probeWith has the hostile driver probe and returns its report.
func probeWith(ctx context.Context, t *testing.T, c *Client, reads, writes []string, signals []int) report {
	t.Helper()
	var pids []string
	for _, p := range signals {
		pids = append(pids, strconv.Itoa(p))
	}
	info, err := c.Create(ctx, &driverpb.CreateRequest{DriverOptions: &driverpb.DriverOptions{StringOptions: map[string]string{
		"read": strings.Join(reads, "\n"), "write": strings.Join(writes, "\n"), "signal": strings.Join(pids, "\n"),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal([]byte(info.Metadata["report"]), &rep); err != nil {
		t.Fatalf("report %q: %v", info.Metadata["report"], err)
	}
	return rep
}

// checkProbes wants every denied probe to have failed with one of errnos,
// every allowed one to have worked.
func checkProbes(t *testing.T, what string, got map[string]probe, denied, allowed []string, errnos ...string) {
	t.Helper()
	for _, p := range denied {
		r, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s %s: not probed", what, p)
		case r.OK:
			t.Errorf("%s %s: the driver could (%+v)", what, p, r)
		case !contains(errnos, r.Errno):
			t.Errorf("%s %s: failed with %s (%s), want one of %v", what, p, r.Errno, r.Err, errnos)
		}
	}
	for _, p := range allowed {
		if r := got[p]; !r.OK {
			t.Errorf("%s %s: %+v; the driver must be able to", what, p, r)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
