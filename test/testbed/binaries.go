package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KubernetesVersion is the kube-apiserver version that `make testbed` builds
// (TESTBED_K8S_VERSION in mk/testbed.mk, k8s.io/kubernetes in tools/kube).
const KubernetesVersion = "v1.33.13"

// EnvDir names the environment variable that points at the directory holding
// the test bed binaries. mk/testbed.mk exports it for recipes.
const EnvDir = "DROVER_TESTBED_DIR"

// Binaries are the paths of the executables a Cluster runs.
type Binaries struct {
	APIServer string // kube-apiserver
	Etcd      string // etcd
}

// DefaultDir is where `make testbed` puts the binaries unless TESTBED_DIR is
// overridden: $HOME/.cache/drover/testbed/<KubernetesVersion>.
func DefaultDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("testbed: no home directory to find the binaries in (set %s or run `make testbed`): %w", EnvDir, err)
	}
	return filepath.Join(home, ".cache", "drover", "testbed", KubernetesVersion), nil
}

// FindBinaries locates kube-apiserver and etcd in $DROVER_TESTBED_DIR, or in
// DefaultDir when that is unset. The error says to run `make testbed` when
// either is missing.
func FindBinaries() (Binaries, error) {
	dir, from := os.Getenv(EnvDir), "$"+EnvDir
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return Binaries{}, err
		}
		dir, from = d, "the default directory"
	}
	b := Binaries{
		APIServer: filepath.Join(dir, "kube-apiserver"),
		Etcd:      filepath.Join(dir, "etcd"),
	}
	if err := b.check(); err != nil {
		return Binaries{}, fmt.Errorf("%w (looked in %s, %s); run `make testbed` to build them", err, dir, from)
	}
	return b, nil
}

// check reports the first binary that is missing or not executable.
func (b Binaries) check() error {
	for _, p := range []struct{ name, path string }{{"kube-apiserver", b.APIServer}, {"etcd", b.Etcd}} {
		if p.path == "" {
			return fmt.Errorf("testbed: no path for %s", p.name)
		}
		fi, err := os.Stat(p.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("testbed: %s not found at %s", p.name, p.path)
		case err != nil:
			return fmt.Errorf("testbed: %s: %w", p.name, err)
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			return fmt.Errorf("testbed: %s at %s is not an executable file", p.name, p.path)
		}
	}
	return nil
}
