package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/proc"
	"github.com/drover-dev/drover/test/testbed"
)

// provisionedView is the part of a cluster's API view these tests read.
type provisionedView struct {
	ID     string `json:"id"`
	Tunnel struct {
		Connected bool `json:"connected"`
	} `json:"tunnel"`
	Provisioning *struct {
		Driver, Phase, Message, Error string
		Config                        map[string]any
	} `json:"provisioning"`
}

// waitPhase polls the cluster until its provisioning phase is want; phase
// error ends the wait at once.
func waitPhase(ctx context.Context, t *testing.T, srv *harness.Server, bearer, id, want string, within time.Duration) provisionedView {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var v provisionedView
	for {
		v = provisionedView{}
		err := srv.Do(ctx, http.MethodGet, "/v3/clusters/"+id, bearer, nil, &v)
		if err == nil && v.Provisioning != nil {
			if v.Provisioning.Phase == want && (want != "active" || v.Tunnel.Connected) {
				return v
			}
			if v.Provisioning.Phase == "error" {
				t.Fatalf("cluster %s failed: %s (%s)", id, v.Provisioning.Message, v.Provisioning.Error)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("cluster %s: phase %+v (err %v), want %s", id, v.Provisioning, err, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestDriverProvisioning: the whole flow through the server's API with the
// local driver as its own process over gRPC: schema, a refused config, a
// refused download, Create → PostCheck → the agent manifest applied → the
// agent (started as its Deployment says) connects → active; kubectl through
// Drover; an etcd snapshot brings a deleted namespace back; an update; and
// Remove leaves no process and no file behind. Run as root (as CI does),
// the driver runs sandboxed, as the driver user, reading the test bed's
// binaries through --driver-share; otherwise the server runs it as its own
// user, as --allow-unsandboxed-drivers lets it.
func TestDriverProvisioning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	driverDir := filepath.Join(dir, "drivers")
	if err := os.MkdirAll(driverDir, 0o700); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	bin := buildDriverLocal(ctx, t, driverDir)
	t.Logf("built driver-local in %s", time.Since(began).Round(time.Millisecond))
	bins, err := testbed.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	// The drivers' state, beside the server's data directory (the
	// default): the cluster lives in the driver's HOME.
	stateDir := filepath.Join(dir, "server-drivers")
	// The safety net: whatever happens, nothing of the cluster outlives
	// the test (the drivers die with the server). Only what names this
	// test's directory: other tests on the machine run drivers too.
	t.Cleanup(func() { killMentioning(stateDir) })
	// The server's log goes with the temporary directory: on failure,
	// show its end.
	t.Cleanup(func() {
		if t.Failed() {
			log := filepath.Join(dir, "server", "server.log")
			t.Logf("last lines of %s:\n%s", log, proc.LogTail(log, 30))
		}
	})

	sandboxed := os.Geteuid() == 0
	args := []string{"--driver-dir", driverDir, "--driver-share", filepath.Dir(bins.APIServer)}
	if !sandboxed {
		args = append(args, "--allow-unsandboxed-drivers")
	}
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server"), Args: args})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(10 * time.Second)
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}

	// The driver and its schema, from GetDriverCreateOptions.
	var drivers struct {
		Items []struct {
			Name               string
			Builtin, Sandboxed bool
		}
	}
	if err := srv.Do(ctx, http.MethodGet, "/v3/drivers", admin, nil, &drivers); err != nil {
		t.Fatal(err)
	}
	if len(drivers.Items) != 1 || drivers.Items[0].Name != "local" || !drivers.Items[0].Builtin || drivers.Items[0].Sandboxed != sandboxed {
		t.Fatalf("drivers = %+v; want the built-in local driver, sandboxed: %v", drivers, sandboxed)
	}
	var sch struct {
		ResourceFields map[string]struct {
			Type           string
			Default        any
			Create, Update bool
		}
	}
	if err := srv.Do(ctx, http.MethodGet, "/v3/drivers/local/schema", admin, nil, &sch); err != nil {
		t.Fatal(err)
	}
	if f := sch.ResourceFields["etcdQuotaMb"]; f.Type != "int" || f.Default != float64(2048) || !f.Create || f.Update {
		t.Errorf("etcdQuotaMb = %+v", f)
	}
	if f := sch.ResourceFields["eventTtl"]; f.Type != "string" || f.Default != "1h" || !f.Create || !f.Update {
		t.Errorf("eventTtl = %+v", f)
	}

	// Configs that do not fit the schema are refused, naming the field.
	for body, want := range map[string]string{
		`{"name":"bad","driver":"local","config":{"etcdQuotaMb":"lots"}}`: "config.etcdQuotaMb must be a whole number",
		`{"name":"bad","driver":"local","config":{"diskSizeGb":1}}`:       "config.diskSizeGb is not a field",
	} {
		var apiErr *harness.APIError
		err := srv.Do(ctx, http.MethodPost, "/v3/clusters", admin, jsonRaw(body), nil)
		if !errors.As(err, &apiErr) || apiErr.Code != 422 || !strings.Contains(apiErr.Body, want) {
			t.Errorf("POST %s: %v, want 422 %q", body, err, want)
		}
	}
	checkInstallByURL(ctx, t, srv, admin, bin)

	// Create, in the driver's HOME (its default).
	var created struct{ Cluster struct{ ID string } }
	if err := srv.Do(ctx, http.MethodPost, "/v3/clusters", admin, map[string]any{"name": "local-1", "driver": "local",
		"config": map[string]any{"binDir": filepath.Dir(bins.APIServer), "etcdQuotaMb": 512}}, &created); err != nil {
		t.Fatal(err)
	}
	id := created.Cluster.ID
	dataDir := filepath.Join(stateDir, "home", "local", "clusters", id)
	began = time.Now()
	waitPhase(ctx, t, srv, admin, id, "waiting-for-agent", 2*time.Minute)
	t.Logf("provisioned in %s", time.Since(began).Round(time.Millisecond))

	// The agent, as the applied Deployment says.
	adminKC := filepath.Join(dataDir, "admin.kubeconfig")
	agent := startAgentFromDeployment(ctx, t, adminKC, filepath.Join(dir, "agent"))
	defer func() { agent.Stop(5 * time.Second) }()
	v := waitPhase(ctx, t, srv, admin, id, "active", time.Minute)
	if v.Provisioning.Config["etcdQuotaMb"] != float64(512) {
		t.Errorf("admin view config = %v", v.Provisioning.Config)
	}
	checkSealed(t, filepath.Join(dir, "server"), dataDir)
	if sandboxed {
		checkRunsAs(t, filepath.Join(dataDir, "etcd.pid"), driverUID)
		checkRunsAs(t, filepath.Join(dataDir, "kube-apiserver.pid"), driverUID)
	}

	// kubectl through Drover.
	b, err := srv.Kubeconfig(ctx, admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "drover-kubeconfig")
	if err := os.WriteFile(kc, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(ctx, t, kc, "get", "ns", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/cattle-system") {
		t.Fatalf("kubectl get ns through Drover: %q, %v", out, err)
	}

	checkSnapshotRestore(ctx, t, srv, admin, id, kc, adminKC)

	// Update: a new event TTL restarts the apiserver with it.
	var accepted provisionedView
	if err := srv.Do(ctx, http.MethodPut, "/v3/clusters/"+id, admin, map[string]any{"config": map[string]any{"eventTtl": "30m"}}, &accepted); err != nil {
		t.Fatal(err)
	}
	var apiErr *harness.APIError
	if err := srv.Do(ctx, http.MethodPut, "/v3/clusters/"+id, admin, map[string]any{"config": map[string]any{"dataDir": "/elsewhere"}}, nil); !errors.As(err, &apiErr) ||
		(apiErr.Code != 422 && apiErr.Code != 409) {
		t.Errorf("changing dataDir: %v", err)
	}
	waitPhase(ctx, t, srv, admin, id, "active", 2*time.Minute)
	if cmd := cmdlineOf(t, filepath.Join(dataDir, "kube-apiserver.pid")); !strings.Contains(cmd, "--event-ttl=30m") {
		t.Errorf("apiserver after update: %s", cmd)
	}

	// Remove: no process, no file left.
	pids := []int{pidIn(t, filepath.Join(dataDir, "etcd.pid")), pidIn(t, filepath.Join(dataDir, "kube-apiserver.pid"))}
	if err := srv.Do(ctx, http.MethodDelete, "/v3/clusters/"+id, admin, nil, &accepted); err != nil {
		t.Fatal(err)
	}
	if accepted.Provisioning == nil || accepted.Provisioning.Phase != "removing" {
		t.Errorf("DELETE answered %+v", accepted.Provisioning)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := srv.Do(ctx, http.MethodGet, "/v3/clusters/"+id, admin, nil, nil)
		if errors.As(err, &apiErr) && apiErr.Code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster still there after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The agent would have died with its cluster; here it is a process of
	// the test's.
	agent.Stop(5 * time.Second)
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d of the removed cluster is alive", pid)
		}
	}
	if left := append(processesMentioning(stateDir), childrenOf(srv.PID())...); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory is still there: %v", err)
	}
	if runs, _ := os.ReadDir(filepath.Join(stateDir, "run")); len(runs) > 0 {
		t.Errorf("driver run directories left: %v", runs)
	}
}

type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// checkInstallByURL: a driver downloaded with the wrong checksum is refused
// and leaves nothing; with the right one it installs and answers.
func checkInstallByURL(ctx context.Context, t *testing.T, srv *harness.Server, admin, bin string) {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer hs.Close()
	var apiErr *harness.APIError
	err = srv.Do(ctx, http.MethodPost, "/v3/drivers", admin, map[string]string{
		"name": "downloaded", "url": hs.URL + "/driver-local", "checksum": strings.Repeat("ab", 32), "address": "unix"}, nil)
	if !errors.As(err, &apiErr) || apiErr.Code != 422 || !strings.Contains(apiErr.Body, "checksum mismatch") ||
		!strings.Contains(apiErr.Body, hex.EncodeToString(sum[:])) {
		t.Fatalf("install with a wrong checksum: %v", err)
	}
	if err := srv.Do(ctx, http.MethodPost, "/v3/drivers", admin, map[string]string{
		"name": "downloaded", "url": hs.URL + "/driver-local", "checksum": hex.EncodeToString(sum[:]), "address": "unix"}, nil); err != nil {
		t.Fatalf("install: %v", err)
	}
	if err := srv.Do(ctx, http.MethodGet, "/v3/drivers/downloaded/schema", admin, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Do(ctx, http.MethodDelete, "/v3/drivers/downloaded", admin, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// checkSealed: the key file is private and nothing the driver returned is
// readable in the database.
func checkSealed(t *testing.T, serverDir, dataDir string) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(serverDir, "secrets.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets.key: %v, %v", fi, err)
	}
	cfg, err := clientcmd.LoadFromFile(filepath.Join(dataDir, "admin.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	var endpoint string
	for _, c := range cfg.Clusters {
		endpoint = c.Server
	}
	files, _ := filepath.Glob(filepath.Join(serverDir, "drover.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, secret := range []string{endpoint, dataDir} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q in the clear", filepath.Base(f), secret)
			}
		}
	}
}

// checkSnapshotRestore: ETCDSave, then a namespace is deleted for good,
// then ETCDRestore brings it back, seen through Drover.
func checkSnapshotRestore(ctx context.Context, t *testing.T, srv *harness.Server, admin, id, kc, adminKC string) {
	t.Helper()
	if out, err := kubectl(ctx, t, kc, "create", "namespace", "keep-me"); err != nil {
		t.Fatalf("create namespace: %q, %v", out, err)
	}
	if err := srv.Do(ctx, http.MethodPost, "/v3/clusters/"+id+"/etcd-snapshots", admin, map[string]string{"name": "before"}, nil); err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", adminKC)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(restCfg)
	// No namespace controller here: delete, then finalize, so it is gone.
	if err := cs.CoreV1().Namespaces().Delete(ctx, "keep-me", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "keep-me", metav1.GetOptions{})
	if err == nil {
		ns.Spec.Finalizers = nil
		if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "keep-me", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("namespace keep-me not gone: %v", err)
		}
	}
	began := time.Now()
	if err := srv.Do(ctx, http.MethodPost, "/v3/clusters/"+id+"/etcd-snapshots/before/restore", admin, nil, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("restored in %s", time.Since(began).Round(time.Millisecond))
	var last error
	for end := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out, err := kubectl(ctx, t, kc, "get", "namespace", "keep-me", "-o", "jsonpath={.status.phase}")
		if err == nil && out == string(corev1.NamespaceActive) {
			break
		}
		last = fmt.Errorf("%q, %v", out, err)
		if time.Now().After(end) {
			t.Fatalf("namespace keep-me after restore, through Drover: %v", last)
		}
	}
	if err := srv.Do(ctx, http.MethodDelete, "/v3/clusters/"+id+"/etcd-snapshots/before", admin, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// driverUID is the uid sandboxed drivers run as (--driver-uid's default).
const driverUID = 70000

// checkRunsAs: the process in pidFile runs as uid, all four of its ids.
func checkRunsAs(t *testing.T, pidFile string, uid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pidIn(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			want := strings.Repeat(strconv.Itoa(uid)+" ", 4)
			if got := strings.Join(strings.Fields(v), " ") + " "; got != want {
				t.Errorf("%s: uids %q, want %q", filepath.Base(pidFile), got, want)
			}
			return
		}
	}
	t.Errorf("%s: no Uid line", pidFile)
}

func pidIn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func cmdlineOf(t *testing.T, pidFile string) string {
	t.Helper()
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pidIn(t, pidFile)))
	return strings.ReplaceAll(string(b), "\x00", " ")
}
