package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/driver/sdk"
	"github.com/drover-dev/drover/test/testbed"
)

// localDriver implements sdk.Driver. It holds nothing: every call finds its
// cluster through ClusterInfo.metadata["data-dir"].
type localDriver struct {
	sdk.UnimplementedClusterSizeAccess // GetClusterSize is below; SetClusterSize is not possible
	sdk.NoLegacyServiceAccount
	sdk.NoK8SCapabilities
}

// Option names.
const (
	optDataDir  = "data-dir"
	optBinDir   = "bin-dir"
	optEventTTL = "event-ttl"
	optQuotaMB  = "etcd-quota-mb"
	optNoFsync  = "unsafe-no-fsync"
	metaDataDir = "data-dir"
)

func (*localDriver) GetDriverCreateOptions(context.Context) (*sdk.DriverFlags, error) {
	return &sdk.DriverFlags{Options: map[string]*sdk.Flag{
		optDataDir: {Type: sdk.StringType,
			Usage: "absolute path of a directory that does not exist yet, for the cluster's files (default: $HOME/clusters/<cluster id> of the driver)"},
		optBinDir: {Type: sdk.StringType,
			Usage: "directory holding kube-apiserver and etcd (`make testbed-print-dir`); default: the test bed's default directory"},
		optEventTTL: {Type: sdk.StringType, Usage: "how long the apiserver keeps events", Default: &sdk.Default{DefaultString: "1h"}},
		optQuotaMB:  {Type: sdk.IntType, Usage: "etcd's storage quota in MiB", Default: &sdk.Default{DefaultInt: 2048}},
		optNoFsync: {Type: sdk.BoolType, Usage: "run etcd without fsync: fast, but a crash of the machine may lose data",
			Default: &sdk.Default{DefaultBool: true}},
	}}, nil
}

func (*localDriver) GetDriverUpdateOptions(context.Context) (*sdk.DriverFlags, error) {
	return &sdk.DriverFlags{Options: map[string]*sdk.Flag{
		optEventTTL: {Type: sdk.StringType, Usage: "how long the apiserver keeps events (a change restarts it)"},
	}}, nil
}

func (*localDriver) GetCapabilities(context.Context) (*sdk.Capabilities, error) {
	return &sdk.Capabilities{Capabilities: map[int64]bool{
		sdk.GetVersionCapability: true, sdk.GetClusterSizeCapability: true, sdk.EtcdBackupCapability: true,
	}}, nil
}

// Create makes the cluster, or, called again for one it made (Drover
// retries an interrupted Create with the info it had), makes sure it runs.
func (d *localDriver) Create(ctx context.Context, o *sdk.DriverOptions, info *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	if dir := info.GetMetadata()[metaDataDir]; dir != "" {
		if c, err := loadCluster(dir); err == nil {
			if err := c.start(ctx); err != nil {
				return nil, err
			}
			return d.info(c, info)
		}
	}
	name := sdk.GetString(o, "name")
	if len(validation.IsDNS1123Label(name)) > 0 {
		return nil, fmt.Errorf("option name %q must be a DNS label (Drover sets it to the cluster id)", name)
	}
	dir := sdk.GetString(o, optDataDir)
	if dir == "" {
		home := os.Getenv("HOME")
		if home == "" {
			home = os.TempDir()
		}
		dir = filepath.Join(home, "clusters", name)
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%s %q must be an absolute path", optDataDir, dir)
	}
	if c, err := loadCluster(dir); err == nil && c.Name == name {
		if err := c.start(ctx); err != nil {
			return nil, err
		}
		return d.info(c, info)
	}
	bins, err := binaries(sdk.GetString(o, optBinDir))
	if err != nil {
		return nil, err
	}
	ttl := sdk.GetString(o, optEventTTL)
	if _, err := time.ParseDuration(ttl); err != nil {
		return nil, fmt.Errorf("%s %q is not a duration", optEventTTL, ttl)
	}
	// Never adopt a directory that exists: Remove deletes what it made.
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s %s: %w (it must not exist yet)", optDataDir, dir, err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	c := &cluster{Name: name, BinDir: bins, EtcdPort: ports[0], PeerPort: ports[1], APIPort: ports[2], EventTTL: ttl,
		QuotaMB: sdk.GetInt(o, optQuotaMB), NoFsync: sdk.GetBool(o, optNoFsync), dir: dir}
	if c.QuotaMB <= 0 {
		c.QuotaMB = 2048
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	if err := writePKI(c.path("pki"), name); err != nil {
		return nil, err
	}
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return d.info(c, info)
}

// binaries returns the absolute directory of kube-apiserver and etcd.
func binaries(dir string) (string, error) {
	if dir == "" {
		b, err := testbed.FindBinaries()
		if err != nil {
			return "", fmt.Errorf("%w (or set %s in the cluster's config)", err, optBinDir)
		}
		return filepath.Dir(b.APIServer), nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode().Perm()&0o100 == 0 {
			return "", fmt.Errorf("%s %s holds no executable %s; run `make testbed` and pass `make testbed-print-dir`", optBinDir, dir, b)
		}
	}
	return dir, nil
}

// info fills what Drover needs to reach the cluster into info.
func (d *localDriver) info(c *cluster, info *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	ca, err := c.caPEM()
	if err != nil {
		return nil, err
	}
	if info.Metadata == nil {
		info.Metadata = map[string]string{}
	}
	info.Metadata[metaDataDir] = c.dir
	info.Endpoint = c.apiURL()
	info.RootCaCertificate = base64.StdEncoding.EncodeToString(ca)
	info.Version = testbed.KubernetesVersion
	info.Status = "running"
	return info, nil
}

// clusterOf loads the cluster the info points at.
func clusterOf(info *sdk.ClusterInfo) (*cluster, error) {
	dir := info.GetMetadata()[metaDataDir]
	if dir == "" {
		return nil, errors.New("the cluster info names no data-dir: this driver did not create it")
	}
	return loadCluster(dir)
}

// Update applies a new event TTL, restarting the apiserver, and makes sure
// both processes run.
func (d *localDriver) Update(ctx context.Context, info *sdk.ClusterInfo, o *sdk.DriverOptions) (*sdk.ClusterInfo, error) {
	c, err := clusterOf(info)
	if err != nil {
		return nil, err
	}
	if ttl := sdk.GetString(o, optEventTTL); ttl != "" && ttl != c.EventTTL {
		if _, err := time.ParseDuration(ttl); err != nil {
			return nil, fmt.Errorf("%s %q is not a duration", optEventTTL, ttl)
		}
		c.EventTTL = ttl
		if err := c.save(); err != nil {
			return nil, err
		}
		if err := c.stop("kube-apiserver", apiserverGrace); err != nil {
			return nil, err
		}
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return d.info(c, info)
}

// PostCheck hands Drover a token of a cluster-admin ServiceAccount.
func (d *localDriver) PostCheck(ctx context.Context, info *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	cs, c, err := clientFor(info)
	if err != nil {
		return nil, err
	}
	tok, err := sdk.GenerateServiceAccountToken(ctx, cs, sdk.ServiceAccountOptions{})
	if err != nil {
		return nil, err
	}
	info.ServiceAccountToken = tok
	return d.info(c, info)
}

func clientFor(info *sdk.ClusterInfo) (kubernetes.Interface, *cluster, error) {
	c, err := clusterOf(info)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := c.restConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, c, err
}

// Remove stops both processes and deletes the cluster's directory (and the
// driver's clusters/ directory once empty). Removing a cluster that is gone
// already succeeds.
func (d *localDriver) Remove(ctx context.Context, info *sdk.ClusterInfo) error {
	dir := info.GetMetadata()[metaDataDir]
	if dir == "" {
		return nil // Create never got as far as making a directory
	}
	c, err := loadCluster(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.stopAll(); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if home := os.Getenv("HOME"); home != "" && filepath.Dir(dir) == filepath.Join(home, "clusters") {
		os.Remove(filepath.Dir(dir)) // only if empty
	}
	return nil
}

func (d *localDriver) GetVersion(ctx context.Context, info *sdk.ClusterInfo) (*sdk.KubernetesVersion, error) {
	cs, _, err := clientFor(info)
	if err != nil {
		return nil, err
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, err
	}
	return &sdk.KubernetesVersion{Version: v.GitVersion}, nil
}

func (d *localDriver) SetVersion(context.Context, *sdk.ClusterInfo, *sdk.KubernetesVersion) error {
	return fmt.Errorf("%w: a local cluster runs the test bed's %s", sdk.ErrNotImplemented, testbed.KubernetesVersion)
}

// GetClusterSize counts the Node objects (none, until kubelets register).
func (d *localDriver) GetClusterSize(ctx context.Context, info *sdk.ClusterInfo) (*sdk.NodeCount, error) {
	cs, _, err := clientFor(info)
	if err != nil {
		return nil, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return &sdk.NodeCount{Count: int64(len(nodes.Items))}, nil
}
