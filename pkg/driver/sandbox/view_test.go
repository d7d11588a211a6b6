package sandbox

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCoverPoints(t *testing.T) {
	tests := []struct {
		name    string
		closed  []string // directories the driver user cannot pass
		targets []string
		want    []string
		wantErr string
	}{
		{name: "all open", targets: []string{"/var/lib/drivers/home/x", "/usr/local/bin"}},
		{name: "a closed home", closed: []string{"/root"}, targets: []string{"/root/.cache/drover/testbed"}, want: []string{"/root"}},
		{name: "two targets behind one closed directory", closed: []string{"/tmp/t1"},
			targets: []string{"/tmp/t1/state/home/x", "/tmp/t1/state/run/d"}, want: []string{"/tmp/t1"}},
		{name: "the topmost closed directory only", closed: []string{"/tmp/t1", "/tmp/t1/a"},
			targets: []string{"/tmp/t1/a/b"}, want: []string{"/tmp/t1"}},
		{name: "a later target covers an earlier cover's ancestor", closed: []string{"/srv/a/b", "/srv"},
			targets: []string{"/srv/a/b/c", "/srv/d"}, want: []string{"/srv"}},
		{name: "the target itself is never covered", closed: []string{"/srv/home"}, targets: []string{"/srv/home"}},
		{name: "a closed root", closed: []string{"/"}, targets: []string{"/x"}, wantErr: "cannot enter /"},
		{name: "relative target", targets: []string{"x/y"}, wantErr: "not an absolute path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			closed := map[string]bool{}
			for _, c := range tc.closed {
				closed[c] = true
			}
			got, err := coverPoints(tc.targets, func(dir string) (bool, error) { return !closed[dir], nil })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("coverPoints = %v, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("covers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAncestors(t *testing.T) {
	for p, want := range map[string][]string{
		"/":       nil,
		"/a":      {"/"},
		"/a/b/c":  {"/", "/a", "/a/b"},
		"/a/b/c/": {"/", "/a", "/a/b"},
	} {
		if diff := cmp.Diff(want, ancestors(p)); diff != "" {
			t.Errorf("ancestors(%q) (-want +got):\n%s", p, diff)
		}
	}
}

func TestSpecRefusesRoot(t *testing.T) {
	for _, s := range []Spec{
		{UID: 0, GID: 70000, Path: "/bin/true", Args: []string{"true"}, Dir: "/", Parent: 2},
		{UID: 70000, GID: 0, Path: "/bin/true", Args: []string{"true"}, Dir: "/", Parent: 2},
	} {
		if _, err := Start(s, nil, 0); err == nil || !strings.Contains(err.Error(), "must not be root") {
			t.Errorf("Start(%+v) = %v", s, err)
		}
	}
}

// TestSandboxUIDBoundary checks what the sandbox relies on besides its mounts: a
// process of another uid, without capabilities, cannot read a root
// process's environment, open files, root or memory through /proc (the
// kernel's ptrace access check), even with no mount namespace at all.
func TestSandboxUIDBoundary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it runs a process as another user; run it as root (sudo -E go test ...)")
	}
	proc := "/proc/" + strconv.Itoa(os.Getpid())
	for _, p := range []string{proc + "/environ", proc + "/fd/", proc + "/root/", proc + "/cwd/", proc + "/mem", proc + "/fd/0"} {
		cmd := exec.Command("/bin/cat", p)
		if strings.HasSuffix(p, "/") {
			cmd = exec.Command("/bin/ls", p)
		}
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 70000, Gid: 70000, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Permission denied") {
			t.Errorf("%s as uid 70000: %v, %q; want permission denied", p, err, out)
		}
	}
}
