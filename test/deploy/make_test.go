package deploy

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/harness"
)

// TestMakeBuildStamps runs `make build` and checks that every binary's
// --version says what git says of the checkout: the version from git
// describe, the commit and the Go that built it. Outside a git checkout
// there is nothing to compare with.
func TestMakeBuildStamps(t *testing.T) {
	root := harness.RepoRoot()
	git := func(args ...string) string {
		cmd := exec.CommandContext(t.Context(), "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("git %s: %v (not a git checkout?)", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	bin := t.TempDir()
	build := exec.CommandContext(t.Context(), "make", "--no-print-directory", "build", "BIN="+bin)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	// After the build: a work tree changed during it would say -dirty here
	// and maybe not in the binary, never the other way round.
	describe, commit := git("describe", "--tags", "--always", "--dirty"), git("rev-parse", "HEAD")
	for _, name := range []string{"drover-server", "drover-agent", "driver-local"} {
		t.Run(name, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), filepath.Join(bin, name), "--version").Output()
			if err != nil {
				t.Fatalf("--version: %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(lines) == 3 {
				// The commit line may say "(modified)" when built from a
				// work tree with changes (go build's own vcs stamp).
				lines[1] = strings.TrimSuffix(lines[1], " (modified)")
			}
			want := []string{name + " version " + describe, "commit: " + commit,
				"go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
			if diff := cmp.Diff(want, lines); diff != "" {
				t.Errorf("--version (-want +got):\n%s", diff)
			}
		})
	}
}
