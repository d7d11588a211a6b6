package testbed

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kernelTunables are the sysctls kubelet sets on start-up (vm.*, kernel.*:
// not namespaced, so they would change the whole machine). Each node's mount
// namespace has a file holding the wanted value bind-mounted over each one:
// kubelet reads the value it wants and writes nothing.
var kernelTunables = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// privateDirs get an empty tmpfs in each node's mount namespace: paths the
// runtime or kubelet use whatever their configuration says (containerd's
// shim sockets, the CNI result cache, kubelet's device-plugin socket and
// log links). What they hold vanishes with the namespace.
var privateDirs = []string{"/run/containerd", "/var/lib/cni", "/var/lib/kubelet", "/var/log/containers"}

// holderReady is the line the mount-namespace holder prints once set up.
const holderReady = "drover-testbed: node mounts ready"

// holderScript sets up a node's mount namespace (see privateDirs and
// kernelTunables), then sleeps: it is the namespace's anchor, which the
// node's containerd and kubelet join.
func holderScript(sysctlDir string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, d := range privateDirs {
		fmt.Fprintf(&b, "mkdir -p %s\nmount -t tmpfs -o mode=0755,size=64m drover-testbed %s\n", d, d)
	}
	for key := range kernelTunables {
		fmt.Fprintf(&b, "mount --bind %s /proc/sys/%s\n", filepath.Join(sysctlDir, strings.ReplaceAll(key, "/", ".")), key)
	}
	// Split in two words so that the script itself (echoed into the log
	// by proc.Start) does not contain the line.
	first, last, _ := strings.Cut(holderReady, " ready")
	fmt.Fprintf(&b, "echo %q %q\nexec sleep infinity\n", first, "ready"+last)
	return b.String()
}

func writeTunables(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for key, v := range kernelTunables {
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(key, "/", ".")), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is a node's containerd configuration: everything under
// the node's directory, the CRI's sandbox image one imported locally, and
// oom_score_adj never lowered (the test process lacks CAP_SYS_RESOURCE).
func containerdConfig(n *node, sandboxImage string) string {
	q := strconv.Quote
	return fmt.Sprintf(`version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %s

[plugins."io.containerd.internal.v1.opt"]
  path = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %s
        SystemdCgroup = false
`, q(filepath.Join(n.dir, "containerd", "root")), q(filepath.Join(n.dir, "containerd", "state")), q(n.sock),
		q(filepath.Join(n.dir, "containerd", "opt")), q(sandboxImage), q(cniBinDir), q(filepath.Join(n.dir, "cni")),
		q(filepath.Join(n.dir, "runc")))
}

// cniConfig is a node's pod network: a bridge of its own with the node's
// /24 of PodCIDR, gateway on the bridge; routing between the nodes' bridges
// happens in the cluster's namespace.
func cniConfig(n *node) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "drover-" + strconv.Itoa(n.index),
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": fmt.Sprintf("cni%d", n.index), "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": n.podSubnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(n.dir, "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// kubeletConfig is a node's KubeletConfiguration (as JSON, which is YAML).
func kubeletConfig(n *node, nodeIP, caFile, cgroupRoot string) ([]byte, error) {
	conf := map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"address":                  nodeIP,
		"port":                     n.kubeletPort,
		"readOnlyPort":             0,
		"healthzPort":              0,
		"containerRuntimeEndpoint": "unix://" + n.sock,
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               cgroupRoot,
		"cgroupsPerQOS":            true,
		"failSwapOn":               false,
		"failCgroupV1":             false,
		"oomScoreAdj":              0,
		"makeIPTablesUtilChains":   false,
		"resolvConf":               "",
		"clusterDomain":            "cluster.local",
		"podLogsDir":               filepath.Join(n.dir, "pod-logs"),
		"serializeImagePulls":      false,
		// Secret volumes follow their Secrets at each pod sync: 10s rather
		// than the default minute, so a registration token rotation reaches
		// the agent pods within the tests' patience.
		"syncFrequency": "10s",
		// Images are imported, never pulled: nothing may collect them.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"evictionHard":                map[string]string{"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
		"authentication": map[string]any{
			"anonymous": map[string]bool{"enabled": false},
			"webhook":   map[string]bool{"enabled": false},
			"x509":      map[string]string{"clientCAFile": caFile},
		},
		// Only holders of a certificate from the cluster's CA get here:
		// the apiserver (its kubelet client certificate) and the test.
		"authorization": map[string]string{"mode": "AlwaysAllow"},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// writeKubeconfig writes a kubeconfig for server with a bearer token.
func writeKubeconfig(path, server string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testbed"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["testbed"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testbed"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: "testbed"}
	cfg.CurrentContext = "testbed"
	return clientcmd.WriteToFile(*cfg, path)
}
