package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pluginResult is the plugin section: the wall time of a whole `kubectl
// get ns` per path.
type pluginResult struct {
	runs  int
	paths []string
	lat   map[string]*latencies
}

// Paths of the plugin section.
const (
	pathKubectlDirect = "direct"
	pathKubectlStatic = "Drover, static token"
	pathKubectlPlugin = "Drover, drover credential"
)

// measurePlugin times the machine's kubectl (`kubectl get ns -o name`, a
// new process each time, as a person runs it) straight to the apiserver,
// through Drover with a static token in the kubeconfig, and through Drover
// with the kubeconfig of `drover kubeconfig`, whose credential kubectl
// gets by running `drover credential` (a cached token after the first).
// Runs take turns between the paths.
func measurePlugin(ctx context.Context, o *Options, e *env) (*pluginResult, error) {
	dir := filepath.Join(e.dir, "plugin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// A static token of its own (an API token scoped to the cluster): a
	// kubeconfig download would replace the token later sections use.
	var tok struct{ Token string }
	if err := e.api.Do(ctx, http.MethodPost, "/v3/tokens", e.admin,
		map[string]string{"clusterId": e.clusterID, "ttl": "2h", "description": "drover-bench plugin"}, &tok); err != nil {
		return nil, fmt.Errorf("create a token: %w", err)
	}
	static := clientcmdapi.NewConfig()
	static.Clusters["bench"] = &clientcmdapi.Cluster{Server: e.api.URL + "/k8s/clusters/" + e.clusterID, CertificateAuthorityData: e.api.CAPEM}
	static.AuthInfos["bench"] = &clientcmdapi.AuthInfo{Token: tok.Token}
	static.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	static.CurrentContext = "bench"
	staticKC := filepath.Join(dir, "static-kubeconfig")
	if err := clientcmd.WriteToFile(*static, staticKC); err != nil {
		return nil, err
	}
	cfgDir := filepath.Join(dir, "drover")
	drover := func(stdin string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, e.bins.CLI, append([]string{"--config-dir", cfgDir}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("drover %v: %w: %s", args[0], err, stderr.String())
		}
		return out, nil
	}
	if _, err := drover(e.api.AdminPassword+"\n", "login", e.api.URL, "--ca-checksum", e.api.CAChecksum,
		"--username", "admin", "--password-stdin"); err != nil {
		return nil, err
	}
	kc, err := drover("", "kubeconfig", "--cluster", e.clusterID)
	if err != nil {
		return nil, err
	}
	pluginKC := filepath.Join(dir, "plugin-kubeconfig")
	if err := os.WriteFile(pluginKC, kc, 0o600); err != nil {
		return nil, err
	}
	kubeconfigs := map[string]string{pathKubectlDirect: e.directKubeconfig, pathKubectlStatic: staticKC, pathKubectlPlugin: pluginKC}
	r := &pluginResult{runs: o.PluginRuns, paths: []string{pathKubectlDirect, pathKubectlStatic, pathKubectlPlugin}, lat: map[string]*latencies{}}
	kubectl := func(kc string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kc, "get", "ns", "-o", "name")
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			return 0, fmt.Errorf("%w: %s", err, stderr.String())
		}
		return time.Since(start), nil
	}
	// Unmeasured: the first plugin run mints the token it caches.
	for _, p := range r.paths {
		r.lat[p] = &latencies{}
		for range 2 {
			if _, err := kubectl(kubeconfigs[p]); err != nil {
				return nil, fmt.Errorf("kubectl through %s: %w", p, err)
			}
		}
	}
	for range o.PluginRuns {
		for _, p := range r.paths {
			d, err := kubectl(kubeconfigs[p])
			if err != nil {
				r.lat[p].fail(err)
				continue
			}
			r.lat[p].lat = append(r.lat[p].lat, d)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for _, l := range r.lat {
		slices.Sort(l.lat)
	}
	return r, nil
}

// printPlugin shows what the credential plugin adds to a kubectl command.
func (r *report) printPlugin(w io.Writer) {
	p := r.plugin
	if p == nil {
		return
	}
	fmt.Fprintf(w, "\nCredential plugin: wall time of `kubectl get ns -o name` (a new kubectl process each run), %d runs per path taking turns, after 2 unmeasured\n", p.runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tp50 ms\tp99 ms\tp50 vs static token\tfailed\t")
	static := quantile(p.lat[pathKubectlStatic].lat, 0.5)
	for _, name := range p.paths {
		l := p.lat[name]
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%+.1f ms\t%d\t\n", name, ms(quantile(l.lat, 0.5)), ms(quantile(l.lat, 0.99)),
			ms(quantile(l.lat, 0.5)-static), l.errors)
	}
	tw.Flush()
	fmt.Fprintln(w, "(drover credential: kubectl runs the drover binary, which reads its config and the cached token under a file lock and prints it;")
	fmt.Fprintln(w, " the token was minted by the first, unmeasured run)")
	for _, name := range p.paths {
		if l := p.lat[name]; l.errors > 0 {
			fmt.Fprintf(w, "errors: %s: %d failed, first: %s\n", name, l.errors, l.firstErr)
		}
	}
}
