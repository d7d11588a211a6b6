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

// Binaries are the paths of the executables a Cluster runs. The node
// binaries are needed only by clusters with real nodes (Options.Nodes);
// FindBinaries fills them in when they are there.
type Binaries struct {
	APIServer string // kube-apiserver
	Etcd      string // etcd

	ControllerManager string // kube-controller-manager
	Scheduler         string // kube-scheduler
	Kubelet           string // kubelet
	KubeProxy         string // kube-proxy
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
		APIServer:         filepath.Join(dir, "kube-apiserver"),
		Etcd:              filepath.Join(dir, "etcd"),
		ControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Scheduler:         filepath.Join(dir, "kube-scheduler"),
		Kubelet:           filepath.Join(dir, "kubelet"),
		KubeProxy:         filepath.Join(dir, "kube-proxy"),
	}
	if err := b.check(); err != nil {
		return Binaries{}, fmt.Errorf("%w (looked in %s, %s); run `make testbed` to build them", err, dir, from)
	}
	return b, nil
}

type namedPath struct{ name, path string }

// check reports the first control-plane binary that is missing or not
// executable.
func (b Binaries) check() error {
	return checkExecutables([]namedPath{{"kube-apiserver", b.APIServer}, {"etcd", b.Etcd}})
}

// checkNodes is check for what a cluster with real nodes runs besides: the
// pinned Kubernetes binaries, and the container runtime and tools from
// Debian (`make testbed` builds and installs both).
func (b Binaries) checkNodes() error {
	paths := []namedPath{
		{"kube-controller-manager", b.ControllerManager}, {"kube-scheduler", b.Scheduler},
		{"kubelet", b.Kubelet}, {"kube-proxy", b.KubeProxy},
	}
	for _, p := range hostTools {
		paths = append(paths, namedPath{filepath.Base(p), p})
	}
	if err := checkExecutables(paths); err != nil {
		return fmt.Errorf("%w; run `make testbed` (as root) to build and install it", err)
	}
	return nil
}

// Host tools the real nodes use, at Debian's paths (see mk/testbed.mk).
const (
	containerdBin = "/usr/bin/containerd"
	ctrBin        = "/usr/bin/ctr"
	nsenterBin    = "/usr/bin/nsenter"
	unshareBin    = "/usr/bin/unshare"
	ipBin         = "/usr/sbin/ip"
	iptablesBin   = "/usr/sbin/iptables"
	cniBinDir     = "/usr/lib/cni"
)

var hostTools = []string{
	containerdBin, "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc", ctrBin, nsenterBin, unshareBin,
	ipBin, iptablesBin, "/usr/sbin/conntrack",
	cniBinDir + "/bridge", cniBinDir + "/host-local", cniBinDir + "/loopback", cniBinDir + "/portmap",
}

func checkExecutables(paths []namedPath) error {
	for _, p := range paths {
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
