package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-dev/drover/test/testbed"
)

// stateFile marks a directory as a local cluster's and holds its settings.
const stateFile = "drover-local.json"

// cluster is one local cluster, as kept in its directory.
type cluster struct {
	Name     string `json:"name"`
	BinDir   string `json:"binDir"`
	EtcdPort int    `json:"etcdPort"`
	PeerPort int    `json:"peerPort"`
	APIPort  int    `json:"apiPort"`
	EventTTL string `json:"eventTtl"`
	QuotaMB  int64  `json:"etcdQuotaMb"`
	NoFsync  bool   `json:"noFsync"`

	dir string
}

func (c *cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}
func (c *cluster) etcdURL() string      { return "http://127.0.0.1:" + strconv.Itoa(c.EtcdPort) }
func (c *cluster) peerURL() string      { return "http://127.0.0.1:" + strconv.Itoa(c.PeerPort) }
func (c *cluster) apiURL() string       { return "https://127.0.0.1:" + strconv.Itoa(c.APIPort) }
func (c *cluster) etcdBin() string      { return filepath.Join(c.BinDir, "etcd") }
func (c *cluster) apiserverBin() string { return filepath.Join(c.BinDir, "kube-apiserver") }

// loadCluster reads the cluster in dir; an error if dir is not one.
func loadCluster(dir string) (*cluster, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a local cluster's directory: %w", dir, err)
	}
	c := &cluster{dir: dir}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", stateFile, err)
	}
	return c, nil
}

func (c *cluster) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.path(stateFile + ".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.path(stateFile))
}

func (c *cluster) caPEM() ([]byte, error) { return os.ReadFile(c.path("pki", "ca.crt")) }

func (c *cluster) adminToken() (string, error) {
	b, err := os.ReadFile(c.path("pki", "admin.token"))
	return strings.TrimSpace(string(b)), err
}

// restConfig is the admin's client config.
func (c *cluster) restConfig() (*rest.Config, error) {
	ca, err := c.caPEM()
	if err != nil {
		return nil, err
	}
	tok, err := c.adminToken()
	if err != nil {
		return nil, err
	}
	return &rest.Config{Host: c.apiURL(), BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		Timeout: 15 * time.Second}, nil
}

// writeKubeconfig writes admin.kubeconfig: the cluster's own admin access,
// like RKE's kube_config_cluster.yml.
func (c *cluster) writeKubeconfig() error {
	cfg, err := c.restConfig()
	if err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	kc.CurrentContext = c.Name
	return clientcmd.WriteToFile(*kc, c.path("admin.kubeconfig"))
}

func (c *cluster) etcdArgs() []string {
	args := []string{
		"--name=local", "--data-dir=" + c.path("etcd"),
		"--listen-client-urls=" + c.etcdURL(), "--advertise-client-urls=" + c.etcdURL(),
		"--listen-peer-urls=" + c.peerURL(), "--initial-advertise-peer-urls=" + c.peerURL(),
		"--initial-cluster=local=" + c.peerURL(), "--initial-cluster-state=new", "--initial-cluster-token=" + c.Name,
		"--quota-backend-bytes=" + strconv.FormatInt(c.QuotaMB<<20, 10),
		"--heartbeat-interval=50", "--election-timeout=500", "--log-level=warn",
	}
	if c.NoFsync {
		args = append(args, "--unsafe-no-fsync=true")
	}
	return args
}

func (c *cluster) apiserverArgs() []string {
	pki := c.path("pki")
	return []string{
		"--etcd-servers=" + c.etcdURL(), "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.APIPort), "--cert-dir=" + pki,
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"), "--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--token-auth-file=" + filepath.Join(pki, "tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-issuer=" + testbed.ServiceAccountIssuer,
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range=" + testbed.ServiceClusterIPRange,
		"--endpoint-reconciler-type=none", "--enable-priority-and-fairness=false", "--profiling=false",
		"--event-ttl=" + c.EventTTL,
	}
}

// start starts whatever of etcd and kube-apiserver is not running and waits
// until both are ready.
func (c *cluster) start(ctx context.Context) error {
	if _, ok := c.pid("etcd"); !ok {
		if err := c.spawn("etcd", c.etcdBin(), c.etcdArgs()); err != nil {
			return err
		}
	}
	if err := c.waitReady(ctx, "etcd", c.etcdHealthy); err != nil {
		return err
	}
	if _, ok := c.pid("kube-apiserver"); !ok {
		if err := c.spawn("kube-apiserver", c.apiserverBin(), c.apiserverArgs()); err != nil {
			return err
		}
	}
	return c.waitReady(ctx, "kube-apiserver", c.apiserverReady)
}

// spawn starts bin in a session of its own, so that it outlives the driver
// (which Drover stops after each call), and records its pid.
func (c *cluster) spawn(name, bin string, args []string) error {
	logf, err := os.OpenFile(c.path(name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== %s: starting %s\n", time.Now().UTC().Format(time.RFC3339), name)
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = c.dir, logf, logf
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + c.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	// Start returns once the exec has begun, a moment before the kernel
	// gives the new program its command line, which pid() checks: on a
	// busy machine /proc/<pid>/cmdline is still empty here about one time
	// in twenty, and the process would pass for exited.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || len(b) > 0 {
			break
		}
	}
	cmd.Process.Release()
	return os.WriteFile(c.path(name+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o600)
}

// pid returns the recorded process of name if it is alive and still the
// one this cluster started: its command line names the binary and this
// cluster's directory.
func (c *cluster) pid(name string) (int, bool) {
	b, err := os.ReadFile(c.path(name + ".pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(c.dir)) || !bytes.HasPrefix(cmdline, []byte(filepath.Join(c.BinDir, name))) {
		return 0, false
	}
	return pid, alive(pid)
}

// alive reports whether pid runs: exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// stop ends name's process (SIGTERM, SIGKILL to its session's group after
// grace) and waits until it is gone.
func (c *cluster) stop(name string, grace time.Duration) error {
	pid, ok := c.pid(name)
	if ok {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		end := time.Now().Add(grace)
		for alive(pid) && time.Now().Before(end) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		for end := time.Now().Add(10 * time.Second); alive(pid); {
			if time.Now().After(end) {
				return fmt.Errorf("%s (pid %d) does not die", name, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := os.Remove(c.path(name + ".pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// apiserverGrace is how long the apiserver may take to drain after SIGTERM:
// short, since nothing but Drover's agent talks to a local cluster.
const apiserverGrace = 5 * time.Second

// stopAll stops the apiserver, then etcd.
func (c *cluster) stopAll() error {
	return errors.Join(c.stop("kube-apiserver", apiserverGrace), c.stop("etcd", 10*time.Second))
}

func (c *cluster) waitReady(ctx context.Context, name string, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if _, ok := c.pid(name); !ok {
			return fmt.Errorf("%s exited; the end of %s:\n%s", name, c.path(name+".log"), tail(c.path(name+".log"), 15))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v (last check: %v)", name, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *cluster) etcdHealthy(ctx context.Context) error {
	body, err := get(ctx, http.DefaultClient, c.etcdURL()+"/health", "")
	if err == nil && !strings.Contains(body, `"health":"true"`) {
		err = fmt.Errorf("etcd /health: %s", body)
	}
	return err
}

func (c *cluster) apiserverReady(ctx context.Context) error {
	cfg, err := c.restConfig()
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAData)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	body, err := get(ctx, client, c.apiURL()+"/readyz", cfg.BearerToken)
	if err == nil && strings.TrimSpace(body) != "ok" {
		err = fmt.Errorf("/readyz: %s", body)
	}
	return err
}

func get(ctx context.Context, client *http.Client, url, bearer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts picks n free loopback ports below the kernel's ephemeral range,
// so no outgoing connection can hold one while a process restarts.
func freePorts(n int) ([]int, error) {
	hi := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > 11000 {
				hi = lo
			}
		}
	}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free loopback port")
		}
		p := 10000 + rand.IntN(hi-10000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		if !containsInt(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
