package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/postgres"
)

// replicasResult is the replicas section: GETs through the replica
// holding the cluster's tunnel, and through its peer (one relay hop more),
// against the direct path, in the same run.
type replicasResult struct {
	conc  []int
	paths []string
	stats map[string]map[int]getStats // path, concurrency
}

// Paths of the replicas section.
const (
	pathReplicaHolder = "replica holding the tunnel"
	pathReplicaPeer   = "its peer (relayed)"
)

// measureReplicas starts a PostgreSQL and two server replicas on it beside
// the bench's own server, connects a cluster agent of the bench cluster to
// the first, and measures GETs straight, through the first, and through
// the second, which relays each to the first.
func measureReplicas(ctx context.Context, o *Options, e *env) (*replicasResult, error) {
	dir := filepath.Join(e.dir, "replicas")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	pg, err := postgres.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	db, err := pg.NewDatabase(ctx)
	if err != nil {
		return nil, err
	}
	pwFile := filepath.Join(dir, "db-password")
	if err := os.WriteFile(pwFile, []byte(pg.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	var servers []*harness.Server
	defer func() {
		for _, s := range servers {
			s.Stop(10 * time.Second)
		}
	}()
	for i := range 2 {
		addr, err := harness.FreeAddr()
		if err != nil {
			return nil, err
		}
		s, err := harness.StartServer(ctx, harness.ServerOptions{Bin: e.bins.Server, DataDir: filepath.Join(dir, fmt.Sprintf("r%d", i+1)),
			Listen: addr, LogLevel: o.ServerLogLevel, Args: []string{"--database-url", pg.URL(db), "--database-password-file", pwFile,
				"--secrets-key-file", filepath.Join(dir, "secrets.key"), "--peer-url", "https://" + addr}})
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
	}
	holder, peer := servers[0], servers[1]
	admin, err := holder.Login(ctx, "admin", holder.AdminPassword)
	if err != nil {
		return nil, err
	}
	id, reg, err := holder.CreateCluster(ctx, admin, "bench-replicas")
	if err != nil {
		return nil, err
	}
	agent, err := harness.StartAgent(harness.AgentOptions{Bin: e.bins.Agent, Dir: dir, ServerURL: holder.URL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: e.directKubeconfig, Kind: "cluster",
		Args: []string{"--log-level", o.ServerLogLevel}})
	if err != nil {
		return nil, err
	}
	defer agent.Stop(5 * time.Second)
	if err := holder.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		return nil, err
	}
	var tok struct{ Token string }
	if err := holder.Do(ctx, http.MethodPost, "/v3/tokens", admin,
		map[string]string{"clusterId": id, "ttl": "2h", "description": "drover-bench replicas"}, &tok); err != nil {
		return nil, fmt.Errorf("create a token: %w", err)
	}
	res := &replicasResult{conc: o.GetConcurrency, paths: []string{e.direct.name, pathReplicaHolder, pathReplicaPeer},
		stats: map[string]map[int]getStats{}}
	targets := []target{e.direct}
	for _, p := range []struct {
		name string
		srv  *harness.Server
	}{{pathReplicaHolder, holder}, {pathReplicaPeer, peer}} {
		t, err := newTarget(p.name, &rest.Config{Host: p.srv.URL + "/k8s/clusters/" + id, BearerToken: tok.Token,
			TLSClientConfig: rest.TLSClientConfig{CAData: p.srv.CAPEM}})
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	for _, n := range o.GetConcurrency {
		for _, t := range targets {
			c := t.clients[encGzip].CoreV1().RESTClient()
			if o.Warmup > 0 {
				measureGets(ctx, c, n, o.Warmup)
			}
			st := measureGets(ctx, c, n, o.GetDuration)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if res.stats[t.name] == nil {
				res.stats[t.name] = map[int]getStats{}
			}
			res.stats[t.name][n] = st
			e.log.Info("measured", "what", fmt.Sprintf("GET c=%d", n), "path", t.name,
				"result", fmt.Sprintf("%.0f req/s p50 %.2fms errors %d", st.RPS(), ms(st.P50), st.Errors))
		}
	}
	return res, nil
}

func (r *replicasResult) print(w io.Writer) {
	fmt.Fprintln(w, "\nReplicas: GET of one ConfigMap through the replica holding the tunnel and through its peer,")
	fmt.Fprintln(w, "which relays each request to it (both on one PostgreSQL, on this machine)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "conc\tpath\treq/s\tp50 ms\tp99 ms\terrors\tvs direct req/s\tp50 added ms")
	for _, n := range r.conc {
		d := r.stats[r.paths[0]][n]
		for _, p := range r.paths {
			s := r.stats[p][n]
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.2f\t%.2f\t%d\t%.2f×\t%+.2f\n", n, p, s.RPS(), ms(s.P50), ms(s.P99), s.Errors,
				s.RPS()/max(d.RPS(), 1), ms(s.P50)-ms(d.P50))
		}
	}
	tw.Flush()
}
