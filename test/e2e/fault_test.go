package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// faultEnv is a server of its own with one cluster served by a cluster
// agent and a node agent, for tests that break things.
type faultEnv struct {
	t          *testing.T
	dir        string
	server     *harness.Server
	metricsURL string
	admin      string
	clusterID  string
	reg        harness.Registration
	kubeconfig string // the downstream admin kubeconfig the agents use
	cluster    *harness.Process
	node       *harness.Process
}

func newFaultEnv(ctx context.Context, t *testing.T) *faultEnv {
	t.Helper()
	f := &faultEnv{t: t, dir: t.TempDir(), kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig")}
	maddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	f.metricsURL = "http://" + maddr + "/metrics"
	f.server, err = harness.StartServer(ctx, harness.ServerOptions{
		Bin: shared.bins.Server, DataDir: filepath.Join(f.dir, "server"), Args: []string{"--metrics-listen", maddr},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.server.Stop(10 * time.Second) })
	if f.admin, err = f.server.Login(ctx, "admin", f.server.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if f.clusterID, f.reg, err = f.server.CreateCluster(ctx, f.admin, "faults"); err != nil {
		t.Fatal(err)
	}
	f.cluster = f.startAgent("cluster", "")
	if err := f.server.WaitConnected(ctx, f.admin, f.clusterID, "cluster"); err != nil {
		t.Fatal(err)
	}
	f.node = f.startAgent("node", "node-a")
	f.waitSessions(ctx, 2)
	return f
}

func (f *faultEnv) startAgent(kind, node string) *harness.Process {
	f.t.Helper()
	tok := f.reg.Token
	if kind == "node" {
		tok = f.reg.NodeToken
	}
	p, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: filepath.Join(f.dir, "agents"), ServerURL: f.server.URL,
		CAChecksum: f.reg.CAChecksum, Token: tok, Kubeconfig: f.kubeconfig, Kind: kind, NodeName: node,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { p.Signal(syscall.SIGCONT); p.Stop(5 * time.Second) })
	return p
}

// waitSessions waits until the cluster has n live sessions.
func (f *faultEnv) waitSessions(ctx context.Context, n int) {
	f.t.Helper()
	f.waitTunnel(ctx, func(via string, sessions int) bool { return sessions == n })
}

// waitTunnel polls the cluster API until ok accepts its tunnel state and
// returns how long that took.
func (f *faultEnv) waitTunnel(ctx context.Context, ok func(via string, sessions int) bool) time.Duration {
	f.t.Helper()
	start := time.Now()
	for {
		var c struct {
			Tunnel struct {
				Via      string `json:"via"`
				Sessions int    `json:"sessions"`
			} `json:"tunnel"`
		}
		err := f.server.Do(ctx, http.MethodGet, "/v3/clusters/"+f.clusterID, f.admin, nil, &c)
		if err == nil && ok(c.Tunnel.Via, c.Tunnel.Sessions) {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			f.t.Fatalf("tunnel state never matched; last %+v, err %v", c.Tunnel, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// metric returns the sum of a metric's samples whose labels contain match.
func (f *faultEnv) metric(ctx context.Context, name, match string) float64 {
	f.t.Helper()
	return metricValue(ctx, f.t, f.metricsURL, name, match)
}

// load sends GETs through Drover back to back until stopped, recording
// each result.
type load struct {
	mu      sync.Mutex
	results []result
	stop    context.CancelFunc
	done    chan struct{}
	n       int // requests to send; 0: until stopped
}

type result struct {
	at  time.Time
	ok  bool
	err string
}

// startLoadN sends n requests (0: until stopped) with 10 ms pauses, or
// none when n is given, and closes done when finished.
func (f *faultEnv) startLoadN(ctx context.Context, bearer string, n int) *load {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.server.CAPEM)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	ctx, cancel := context.WithCancel(ctx)
	l := &load{stop: cancel, done: make(chan struct{}), n: n}
	url := f.server.URL + "/k8s/clusters/" + f.clusterID + "/api/v1/namespaces/default"
	go func() {
		defer close(l.done)
		for i := 0; ctx.Err() == nil && (n == 0 || i < n); i++ {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+bearer)
			resp, err := client.Do(req)
			r := result{at: time.Now()}
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r.ok = resp.StatusCode == 200
				if !r.ok {
					r.err = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
				}
			} else if ctx.Err() == nil {
				r.err = err.Error()
			} else {
				return
			}
			l.mu.Lock()
			l.results = append(l.results, r)
			l.mu.Unlock()
			if n == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	return l
}

// finish stops the load and summarises it around the moment of a fault.
func (l *load) finish(fault time.Time) (total, failed int, firstOKAfter time.Duration, errs []string) {
	if l.n == 0 {
		l.stop()
	}
	<-l.done
	l.stop()
	firstOKAfter = -1
	for _, r := range l.results {
		total++
		if !r.ok {
			failed++
			if len(errs) < 5 {
				errs = append(errs, r.err)
			}
		}
		if r.ok && r.at.After(fault) && firstOKAfter < 0 {
			firstOKAfter = r.at.Sub(fault)
		}
	}
	return
}

func TestFaultServerKilledDuringWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := newFaultEnv(ctx, t)
	kc := filepath.Join(f.dir, "kubeconfig")
	b, err := f.server.Kubeconfig(ctx, f.admin, []string{f.clusterID}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, kc, b)

	// The server dies once kubectl has printed the list, after which it
	// opens the watch (not after a fixed time, which on a loaded machine
	// may end before kubectl has even connected).
	watch := startKubectlWatch(ctx, t, kc, "get", "ns", "-w", "-o", "name")
	watch.waitListed(t, time.Minute)
	time.Sleep(200 * time.Millisecond) // the watch request follows the list at once
	f.server.Kill()
	select {
	case err := <-watch.ended:
		t.Logf("the watch ended when the server died: %v", err)
	case <-time.After(30 * time.Second):
		watch.cmd.Process.Kill()
		t.Error("kubectl get -w kept hanging after the server was killed")
	}
	if err := f.server.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	f.waitTunnel(ctx, func(via string, n int) bool { return via == "cluster" && n == 2 })
	t.Logf("both agents reconnected %v after the restarted server served", time.Since(up))

	// Users, tokens and clusters survived: the old kubeconfig works, and a
	// new watch sees a change.
	if _, err := kubectl(ctx, t, kc, "get", "ns", "default"); err != nil {
		t.Fatalf("old kubeconfig after restart: %v", err)
	}
	w2 := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kc, "get", "ns", "-w", "-o", "name", "--watch-only")
	out, _ := w2.StdoutPipe()
	if err := w2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { w2.Process.Kill(); w2.Wait() }()
	seen := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "after-restart") {
				seen <- true
				return
			}
		}
		seen <- false
	}()
	// A --watch-only watch shows only what changes once it is open, and
	// nothing tells when kubectl has opened it (discovery first; slow on a
	// loaded machine): a namespace is created every second until the watch
	// shows one, for at most a minute.
	deadline := time.After(time.Minute)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 1; ; i++ {
		// Named after this test's cluster: the downstream cluster is the
		// shared one, and -count may run the test again.
		if _, err := kubectl(ctx, t, kc, "create", "ns", fmt.Sprintf("after-restart-%s-%d", f.clusterID, i)); err != nil {
			t.Fatal(err)
		}
		select {
		case ok := <-seen:
			if !ok {
				t.Fatal("new watch ended without seeing a namespace created")
			}
			t.Logf("the new watch saw a namespace; %d created", i)
			return
		case <-deadline:
			t.Fatalf("new watch saw none of the %d namespaces created in a minute", i)
		case <-tick.C:
		}
	}
}
