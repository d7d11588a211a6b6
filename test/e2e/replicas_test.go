package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/haproxy"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/postgres"
)

// replicaSet is server replicas on one real PostgreSQL behind a real
// HAProxy, for the high-availability tests.
type replicaSet struct {
	pg        *postgres.Server
	db        string
	lb        *haproxy.LB
	servers   []*harness.Server
	metrics   []string // each replica's metrics address
	front     *harness.Server
	dbArgs    []string
	keyFile   string
	serverURL string
}

// startReplicas starts n replicas sharing one secrets key (the one secret
// an operator hands every replica), the first alone (it makes the CA and
// the admin), then the rest, and HAProxy in front of them.
func startReplicas(ctx context.Context, t *testing.T, n int) *replicaSet {
	t.Helper()
	dir := t.TempDir()
	rs := &replicaSet{pg: postgres.StartT(t)}
	rs.db = rs.pg.NewDatabaseT(t)
	pwFile := filepath.Join(dir, "db-password")
	writeFile(t, pwFile, []byte(rs.pg.Password+"\n"))
	rs.keyFile = filepath.Join(dir, "secrets.key")
	rs.dbArgs = []string{"--database-url", rs.pg.URL(rs.db), "--database-password-file", pwFile, "--secrets-key-file", rs.keyFile}
	addrs := make([]string, n)
	for i := range addrs {
		a, err := harness.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	lbPort, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	rs.serverURL = "https://" + lbPort
	for i := range n {
		m, err := harness.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		args := append(append([]string{}, rs.dbArgs...), "--server-url", rs.serverURL, "--peer-url", "https://"+addrs[i],
			"--metrics-listen", m)
		srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, fmt.Sprintf("r%d", i+1)),
			Listen: addrs[i], Args: args})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			srv.Stop(5 * time.Second)
			if t.Failed() {
				keep := filepath.Join(os.TempDir(), fmt.Sprintf("drover-replica-%d-%d.log", os.Getpid(), i+1))
				if b, err := os.ReadFile(srv.LogPath); err == nil && os.WriteFile(keep, b, 0o600) == nil {
					t.Logf("replica %d's log kept in %s", i+1, keep)
				}
			}
		})
		rs.servers = append(rs.servers, srv)
		rs.metrics = append(rs.metrics, m)
		if srv.CAChecksum != rs.servers[0].CAChecksum {
			t.Fatalf("replica %d serves another CA than replica 1", i+1)
		}
	}
	caFile := filepath.Join(dir, "ca.crt")
	writeFile(t, caFile, rs.servers[0].CAPEM)
	// The load balancer takes the port the replicas were told is theirs.
	rs.lb = startLB(t, lbPort, addrs, caFile)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := rs.lb.WaitUp(wctx, n); err != nil {
		t.Fatal(err)
	}
	rs.front = &harness.Server{URL: rs.serverURL, CAPEM: rs.servers[0].CAPEM, CAChecksum: rs.servers[0].CAChecksum,
		AdminPassword: rs.servers[0].AdminPassword}
	return rs
}

func startLB(t *testing.T, addr string, backends []string, caFile string) *haproxy.LB {
	t.Helper()
	for attempt := 0; ; attempt++ {
		lb, err := haproxy.StartAt(context.Background(), addr, haproxy.Options{Backends: backends, CAFile: caFile})
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("haproxy log:\n%s", readTail(lb.LogPath()))
				}
				lb.Stop()
			})
			return lb
		}
		if attempt == 2 {
			t.Fatal(err)
		}
	}
}

func readTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// imported is a cluster created through the load balancer, its agent
// connected through it, and the admin's kubeconfig for it.
type imported struct {
	admin, id, dir string
	kc             []byte
	kcPath         string
}

// importCluster creates a cluster through the load balancer, starts its
// cluster agent against it, waits until it is connected and writes the
// admin's kubeconfig (a login session of its own).
func (rs *replicaSet) importCluster(ctx context.Context, t *testing.T, name string) imported {
	t.Helper()
	c := imported{dir: t.TempDir()}
	var err error
	if c.admin, err = rs.front.Login(ctx, "admin", rs.front.AdminPassword); err != nil {
		t.Fatal(err)
	}
	var reg harness.Registration
	if c.id, reg, err = rs.front.CreateCluster(ctx, c.admin, name); err != nil {
		t.Fatal(err)
	}
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: c.dir, ServerURL: rs.serverURL, CAChecksum: reg.CAChecksum, Token: reg.Token,
		Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Stop(5 * time.Second) })
	if err := rs.front.WaitConnected(ctx, c.admin, c.id, "cluster"); err != nil {
		t.Fatal(err)
	}
	if c.kc, err = rs.front.Kubeconfig(ctx, c.admin, []string{c.id}, "1h"); err != nil {
		t.Fatal(err)
	}
	c.kcPath = filepath.Join(c.dir, "kubeconfig")
	writeFile(t, c.kcPath, c.kc)
	return c
}

// relayed reads a replica's count of relayed requests in a direction.
func (rs *replicaSet) relayed(t *testing.T, i int, direction string) int {
	t.Helper()
	return rs.metric(t, i, `drover_replica_relayed_requests_total{direction="`+direction+`"}`)
}

// metric reads a replica's metric (name with its labels, as exposed); 0
// when it is not there.
func (rs *replicaSet) metric(t *testing.T, i int, name string) int {
	t.Helper()
	resp, err := http.Get("http://" + rs.metrics[i] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return 0
}

// holder returns the index of the replica holding the cluster agent's
// tunnel, from the database.
func (rs *replicaSet) holder(ctx context.Context, t *testing.T, clusterID string) int {
	t.Helper()
	c, err := rs.pg.Connect(ctx, rs.db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var url string
	if err := c.QueryRow(ctx, `SELECT r.url FROM cluster_tunnels t JOIN replicas r ON r.id = t.replica_id
		WHERE t.cluster_id = $1 AND t.kind = 'cluster' ORDER BY t.connected_at DESC LIMIT 1`, clusterID).Scan(&url); err != nil {
		t.Fatalf("the replica holding the tunnel: %v", err)
	}
	for i, s := range rs.servers {
		if "https://"+s.Listen == url {
			return i
		}
	}
	t.Fatalf("no replica has the URL %s", url)
	return -1
}

// TestReplicas runs three replicas on a real PostgreSQL behind a real
// HAProxy that kubectl and the agent both use. Every replica serves: a
// kubectl request that lands on a replica without the cluster's tunnel is
// relayed to the one that has it (the counts show the peer hop). Then the
// replica holding the tunnel is killed (SIGKILL) while a watch is open:
// kubectl through the load balancer works again once the agent reconnected
// to a survivor, nothing created before is lost, and a new watch sees a
// new event. Then the new holder is frozen (SIGSTOP), down to one replica
// serving: the same; thawed, it joins again without a second controller.
func TestReplicas(t *testing.T) {
	t.Parallel() // with the other replica tests, after the rest of the package: each has its own database and servers
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rs := startReplicas(ctx, t, 3)
	c := rs.importCluster(ctx, t, "ha")
	admin, id, kcPath := c.admin, c.id, c.kcPath

	// Every kubectl is a new connection: round robin spreads them.
	for i := range 9 {
		if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default", "-o", "name"); err != nil {
			t.Fatalf("kubectl %d through the load balancer: %v", i, err)
		}
	}
	h := rs.holder(ctx, t, id)
	in, out := rs.relayed(t, h, "in"), 0
	for i := range rs.servers {
		if i != h {
			out += rs.relayed(t, i, "out")
		}
	}
	t.Logf("replica %d holds the tunnel; it served %d requests relayed by its peers, which relayed %d", h+1, in, out)
	if in == 0 || out == 0 || in != out {
		t.Errorf("relayed: %d in on the holder, %d out on the others; want the same, more than 0", in, out)
	}
	if _, err := kubectl(ctx, t, kcPath, "create", "namespace", "before-kill"); err != nil {
		t.Fatal(err)
	}
	revokeAcrossReplicas(ctx, t, rs, admin, id, h)

	// A watch open through the load balancer when the holder dies.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watch := exec.CommandContext(wctx, "kubectl", "--kubeconfig", kcPath, "get", "ns", "-w", "-o", "name")
	watch.Env = append(os.Environ(), "KUBECONFIG=")
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	watchDone := make(chan error, 1)
	go func() { watchDone <- watch.Wait() }()
	time.Sleep(500 * time.Millisecond)

	killed := time.Now()
	if err := syscall.Kill(rs.servers[h].PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var back time.Duration
	for {
		if _, err := kubectlQuiet(ctx, kcPath, "get", "ns", "before-kill", "-o", "name"); err == nil {
			back = time.Since(killed)
			break
		}
		if ctx.Err() != nil {
			t.Fatal("kubectl through the load balancer never worked again after the holder was killed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("kubectl worked again %v after the replica holding the tunnel was killed", back.Round(time.Millisecond))
	if back > 60*time.Second {
		t.Errorf("kubectl came back after %v (goal 5s, bound 60s)", back)
	}
	select {
	case err := <-watchDone:
		t.Logf("the watch open during the kill ended: %v", err)
	case <-time.After(time.Second):
		t.Log("the watch open during the kill goes on (it was relayed by a survivor to the killed replica, or not through it)")
	}
	wcancel()

	// Every request of a fresh kubectl works; a new watch sees a new event.
	for i := range 6 {
		if _, err := kubectl(ctx, t, kcPath, "get", "ns", "before-kill", "-o", "name"); err != nil {
			t.Fatalf("kubectl %d after the kill: %v", i, err)
		}
	}
	w2ctx, w2cancel := context.WithTimeout(ctx, time.Minute)
	defer w2cancel()
	watch2 := exec.CommandContext(w2ctx, "kubectl", "--kubeconfig", kcPath, "get", "ns", "-w", "-o", "name", "--watch-only")
	watch2.Env = append(os.Environ(), "KUBECONFIG=")
	stdout, err := watch2.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { w2cancel(); watch2.Wait() }()
	time.Sleep(time.Second)
	if _, err := kubectl(ctx, t, kcPath, "create", "namespace", "after-kill"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	seen := false
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "namespace/after-kill" {
			seen = true
			break
		}
	}
	if !seen {
		t.Error("a watch opened after the kill did not see the namespace created after it")
	}

	// A frozen replica (SIGSTOP) still accepts TCP connections: HAProxy's
	// TLS health check takes it out, its agent moves on, its peers forget
	// it. Freeze the holder among the two left; the last one serves.
	h2 := rs.holder(ctx, t, id)
	if h2 == h {
		t.Fatalf("the killed replica %d still holds the tunnel", h+1)
	}
	frozen := time.Now()
	if err := syscall.Kill(rs.servers[h2].PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(rs.servers[h2].PID(), syscall.SIGCONT) })
	for {
		if _, err := kubectlQuiet(ctx, kcPath, "get", "ns", "after-kill", "-o", "name"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("kubectl through the load balancer never worked again after the holder was frozen")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("kubectl worked again %v after the replica holding the tunnel was frozen", time.Since(frozen).Round(time.Millisecond))
	// Thawed, it finds itself forgotten, joins again and serves; the
	// cluster's controller is not run twice.
	if err := syscall.Kill(rs.servers[h2].PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wctx2, wcancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel2()
	if _, err := rs.lb.WaitUp(wctx2, 2); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := kubectl(ctx, t, kcPath, "get", "ns", "after-kill", "-o", "name"); err != nil {
			t.Fatalf("kubectl %d after the thaw: %v", i, err)
		}
	}
	time.Sleep(3 * time.Second) // the thawed replica's lease and controller settle
	total := 0
	for i := range rs.servers {
		if i != h {
			total += rs.metric(t, i, "drover_controllers")
		}
	}
	if total != 1 {
		t.Errorf("%d cluster controllers run across the replicas after the thaw, want 1", total)
	}
	for _, ns := range []string{"before-kill", "after-kill"} {
		kubectlQuiet(ctx, kcPath, "delete", "namespace", ns, "--wait=false")
	}
}

// kubectlQuiet is kubectl without logging a failure (for polls).
func kubectlQuiet(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "kubectl", append([]string{"--kubeconfig", kubeconfig, "--request-timeout", "5s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// revokeAcrossReplicas: a watch open on replica b (relayed to the holder
// h) ends when the token is revoked through replica a, and replica b,
// which had just verified the token (a cache entry good for seconds),
// refuses it at once: revocations are pushed between replicas.
func revokeAcrossReplicas(ctx context.Context, t *testing.T, rs *replicaSet, admin, clusterID string, h int) {
	t.Helper()
	a, b := (h+1)%len(rs.servers), (h+2)%len(rs.servers)
	// A session of its own: a session's next download replaces its last.
	session, err := rs.front.Login(ctx, "admin", rs.front.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := rs.front.Kubeconfig(ctx, session, []string{clusterID}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	// Straight to replica b, past the load balancer.
	kc = []byte(strings.ReplaceAll(string(kc), rs.serverURL, "https://"+rs.servers[b].Listen))
	kcPath := filepath.Join(t.TempDir(), "kubeconfig-b")
	writeFile(t, kcPath, kc)
	cfg, err := clientcmd.LoadFromFile(kcPath)
	if err != nil {
		t.Fatal(err)
	}
	var tokenID string
	for _, u := range cfg.AuthInfos {
		tokenID, _, _ = strings.Cut(u.Token, ":")
	}
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default", "-o", "name"); err != nil {
		t.Fatalf("kubectl straight to replica %d: %v", b+1, err)
	}
	watch := startKubectlWatch(ctx, t, kcPath, "get", "ns", "-w")
	watch.waitListed(t, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	if err := rs.servers[a].Do(ctx, http.MethodDelete, "/v3/tokens/"+tokenID, admin, nil, nil); err != nil {
		t.Fatalf("revoke through replica %d: %v", a+1, err)
	}
	revoked := time.Now()
	_, err = kubectlQuiet(ctx, kcPath, "get", "ns", "default", "-o", "name")
	refusedAfter := time.Since(revoked)
	if err == nil {
		t.Errorf("replica %d accepted the token %v after replica %d revoked it", b+1, refusedAfter, a+1)
	}
	select {
	case <-watch.ended:
		t.Logf("revoked through replica %d: replica %d refused the token %v later; the watch open through it ended %v after",
			a+1, b+1, refusedAfter.Round(time.Millisecond), time.Since(revoked).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		watch.cmd.Process.Kill()
		t.Fatal("the watch outlived its token, revoked on another replica, by 10s")
	}
}

// TestReplicaController: two cluster agents of one cluster connect to two
// different replicas (a rollout of the agent Deployment does that), so two
// replicas hold a cluster agent's tunnel; the cluster's controller runs on
// one of them only (its lease). When that replica dies, the other takes
// the lease once it expires and runs the controller.
func TestReplicaController(t *testing.T) {
	t.Parallel() // with the other replica tests, after the rest of the package: each has its own database and servers
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rs := startReplicas(ctx, t, 2)
	admin, err := rs.front.Login(ctx, "admin", rs.front.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	id, reg, err := rs.front.CreateCluster(ctx, admin, "ha-controller")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, srv := range rs.servers {
		agent, err := harness.StartAgent(harness.AgentOptions{
			Bin: shared.bins.Agent, Dir: filepath.Join(dir, fmt.Sprint(i)), ServerURL: srv.URL, CAChecksum: reg.CAChecksum, Token: reg.Token,
			Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { agent.Stop(5 * time.Second) })
		if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
			t.Fatal(err)
		}
	}
	controllers := func() []int {
		out := make([]int, len(rs.servers))
		for i := range rs.servers {
			if exited, _ := rs.servers[i].Exited(); !exited {
				out[i] = rs.metric(t, i, "drover_controllers")
			}
		}
		return out
	}
	// Both replicas hold a cluster agent's tunnel; for 3 s (more than
	// their lease retries) exactly one runs the controller.
	var holder int
	deadline := time.Now().Add(30 * time.Second)
	for stable := 0; stable < 6; {
		c := controllers()
		if c[0]+c[1] == 1 {
			stable++
			holder = 1 - c[0]
		} else {
			stable = 0
			if c[0]+c[1] > 1 {
				t.Fatalf("controllers per replica %v: the cluster's controller runs twice", c)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("controllers per replica %v, want 1 in all", c)
		}
		time.Sleep(500 * time.Millisecond)
	}
	killed := time.Now()
	if err := syscall.Kill(rs.servers[holder].PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	other := 1 - holder
	for rs.metric(t, other, "drover_controllers") != 1 {
		if time.Since(killed) > time.Minute {
			t.Fatal("the controller did not move to the surviving replica within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the controller moved to replica %d %v after replica %d was killed (lease %v)", other+1,
		time.Since(killed).Round(time.Millisecond), holder+1, 10*time.Second)
}

// TestReplicasPostgresRestart restarts PostgreSQL under kubectl load
// through two replicas. While it is down, requests either go on (cached
// identities, the tunnel on the replica reached) or fail fast with a 503
// that says why; once it is back, everything works again without
// restarting a replica: requests, the replicas' view of each other, and
// revocations pushed between them.
func TestReplicasPostgresRestart(t *testing.T) {
	t.Parallel() // with the other replica tests, after the rest of the package: each has its own database and servers
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rs := startReplicas(ctx, t, 2)
	c := rs.importCluster(ctx, t, "ha-pg")
	admin, dir, kc, kcPath := c.admin, c.dir, c.kc, c.kcPath
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default", "-o", "name"); err != nil {
		t.Fatal(err)
	}

	// Load: one GET after the other through the load balancer.
	type result struct {
		ok  bool
		out string
	}
	results := make(chan result, 1000)
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for lctx.Err() == nil {
			out, err := kubectlQuiet(lctx, kcPath, "get", "ns", "default", "-o", "name")
			if lctx.Err() == nil {
				results <- result{err == nil, out}
			}
		}
	}()
	time.Sleep(time.Second)
	restarted := time.Now()
	if err := rs.pg.Restart(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL was down for %v", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	stopLoad()
	<-loadDone
	close(results)
	okN, failed := 0, map[string]int{}
	for r := range results {
		if r.ok {
			okN++
			continue
		}
		msg := strings.TrimSpace(r.out)
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		failed[msg]++
	}
	t.Logf("during the restart: %d requests answered, failures by message: %v", okN, failed)
	for msg := range failed {
		if !strings.Contains(msg, "ServiceUnavailable") && !strings.Contains(msg, "503") && !strings.Contains(msg, "retry") &&
			!strings.Contains(msg, "database") && !strings.Contains(msg, "not connected") {
			t.Errorf("a failure that is not a clear 503: %q", msg)
		}
	}

	// Recovered without a restart of any replica.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := kubectlQuiet(ctx, kcPath, "get", "ns", "default", "-o", "name")
		live0, live1 := rs.metric(t, 0, "drover_replicas_live"), rs.metric(t, 1, "drover_replicas_live")
		if err == nil && live0 == 2 && live1 == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the restart: kubectl %v, replicas live as seen by each: %d, %d", err, live0, live1)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for i := range 4 {
		if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default", "-o", "name"); err != nil {
			t.Fatalf("kubectl %d after the restart: %v", i, err)
		}
	}
	// Revocations are pushed again: revoked through replica 1, refused at
	// once by replica 2 (which verified the token just before).
	cfg, err := clientcmd.LoadFromFile(kcPath)
	if err != nil {
		t.Fatal(err)
	}
	var tokenID string
	for _, u := range cfg.AuthInfos {
		tokenID, _, _ = strings.Cut(u.Token, ":")
	}
	direct2 := filepath.Join(dir, "kubeconfig-2")
	writeFile(t, direct2, []byte(strings.ReplaceAll(string(kc), rs.serverURL, "https://"+rs.servers[1].Listen)))
	if _, err := kubectl(ctx, t, direct2, "get", "ns", "default", "-o", "name"); err != nil {
		t.Fatal(err)
	}
	if err := rs.servers[0].Do(ctx, http.MethodDelete, "/v3/tokens/"+tokenID, admin, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectlQuiet(ctx, direct2, "get", "ns", "default", "-o", "name"); err == nil {
		t.Error("replica 2 accepted a token revoked through replica 1 after the database restart")
	}
}

// TestRollingUpgrade rolls two replicas, one at a time, from this build to
// the next release's (this source built with -tags drover_next_schema: one
// more, additive, migration) while kubectl runs through the load balancer
// and the agent stays connected. Each replica stops as it would in a
// rollout (SIGTERM: it drains, then its agent moves), and its successor
// migrates the database on start while the other, old one goes on serving
// on the newer schema; an old replica restarting mid-roll does too. No
// kubectl request fails.
func TestRollingUpgrade(t *testing.T) {
	t.Parallel() // with the other replica tests, after the rest of the package: each has its own database and servers
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	next := filepath.Join(t.TempDir(), "drover-server-next")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "drover_next_schema", "-o", next, "./cmd/server")
	build.Dir = harness.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the next release: %v\n%s", err, out)
	}
	rs := startReplicas(ctx, t, 2)
	c := rs.importCluster(ctx, t, "ha-roll")
	kcPath := c.kcPath
	schema := func() int {
		c, err := rs.pg.Connect(ctx, rs.db)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var v int
		if err := c.QueryRow(ctx, `SELECT version FROM drover_schema`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := schema()

	var total, failed atomic.Int64
	var firstFailure atomic.Value
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for lctx.Err() == nil {
			out, err := kubectlQuiet(lctx, kcPath, "get", "ns", "default", "-o", "name")
			if lctx.Err() != nil {
				return
			}
			total.Add(1)
			if err != nil {
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, strings.TrimSpace(out))
			}
		}
	}()
	// roll replaces replica i's process with bin on the same address and
	// data directory; the load balancer takes it back once it is ready.
	roll := func(i int, bin string) {
		t.Helper()
		s := rs.servers[i]
		began := time.Now()
		if err := s.Stop(20 * time.Second); err != nil {
			t.Logf("replica %d stopped: %v", i+1, err)
		}
		n, err := harness.StartServer(ctx, harness.ServerOptions{Bin: bin, DataDir: s.DataDir, Listen: s.Listen,
			Args: s.Args()})
		if err != nil {
			t.Fatalf("replica %d with %s: %v", i+1, filepath.Base(bin), err)
		}
		rs.servers[i] = n
		t.Cleanup(func() { n.Stop(5 * time.Second) })
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := rs.lb.WaitUp(wctx, len(rs.servers)); err != nil {
			t.Fatal(err)
		}
		t.Logf("replica %d is %s now (%v, schema %d)", i+1, filepath.Base(bin), time.Since(began).Round(time.Millisecond), schema())
	}
	time.Sleep(time.Second)
	roll(0, next)
	if got := schema(); got != before+1 {
		t.Errorf("schema %d after the first new replica started, want %d", got, before+1)
	}
	roll(1, shared.bins.Server) // an old replica restarting mid-roll runs on the newer schema
	roll(1, next)
	time.Sleep(time.Second)
	stopLoad()
	<-loadDone
	t.Logf("kubectl during the roll: %d requests, %d failed", total.Load(), failed.Load())
	if total.Load() < 5 {
		t.Errorf("only %d requests during the roll", total.Load())
	}
	if failed.Load() > 0 {
		t.Errorf("%d of %d kubectl requests failed during the roll; the first: %v", failed.Load(), total.Load(), firstFailure.Load())
	}
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default", "-o", "name"); err != nil {
		t.Fatalf("after the roll: %v", err)
	}
}
