// Command demo runs Drover on this machine for a person to try: a
// downstream cluster with two real nodes (kubelets and containerd from
// `make testbed`, in a network namespace of its own) and drover-server on
// the cluster's host address, the root namespace's end of the cluster's
// link, where the pods and this machine reach it (package realcluster; -port
// sets its port, a free one by default), the cluster imported
// the way a user does it (the import manifest applied with kubectl: the
// cluster agent, the node agents and kube-api-auth run as pods; the demo
// starts no agent itself), the authorized cluster endpoint enabled, and a
// Deployment "hello" (busybox httpd) in namespace demo to exec into, follow
// the logs of, port-forward to and copy files to and from through Drover.
// It writes kubeconfigs for the admin through Drover, for a read-only
// second user ("viewer") through Drover, and straight to the apiserver,
// prints how to use them and "demo ready", and runs until SIGINT or
// SIGTERM; then it stops the server and the cluster with its nodes and pods
// and leaves nothing running (also when interrupted during start-up). It
// needs root (network namespaces, cgroups, mounts) and fails at once
// without. Logs stay in the demo directory (`make clean` removes it).
//
// Run it with `make demo`. Its test (demo_test.go, root too) runs every
// command it prints, as printed, and checks that nothing is left after the
// stop.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/drover-dev/drover/test/harness"
)

func main() {
	opts := NewOptions(harness.RepoRoot())
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	opts.Flags(fs)
	fs.Parse(os.Args[1:])
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: invalid options:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(ctx, opts, os.Stdout, log); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "demo: interrupted during start-up; everything was stopped")
			os.Exit(130)
		}
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// printed is what the demo prints once ready.
type printed struct {
	ServerURL, AdminPassword string
	ClusterID                string
	Nodes                    []string
	Kubeconfig, ACEContext   string
	Viewer                   viewer
	Direct                   string
	CA                       string
	LocalPort                int
	CopyFile, CopyBack       string
	Dir                      string
	ServerLog                string
	// Replicas is the file listing the server replicas (empty: one
	// server), NReplicas how many there are.
	Replicas  string
	NReplicas int
}

// print writes the instructions. Every command in it is run as printed by
// demo_test.go.
func (p printed) print(w io.Writer) {
	q := shellQuote
	fmt.Fprintf(w, `
Drover demo
  server:      %[1]s
  admin login: username admin, password %[2]s
  cluster:     "demo" (id %[3]s) with two real nodes, %[4]s: kubelets,
               containerd, pods. Imported as a user does it (kubectl apply of
               its import manifest): the cluster agent, a node agent on each
               node and kube-api-auth run there as pods.

Through Drover:
  export KUBECONFIG=%[5]s
  kubectl get nodes
  kubectl auth whoami
  kubectl create configmap hello --from-literal=from=drover && kubectl get cm hello -o yaml

Deployment hello in namespace demo (busybox httpd on port %[6]d), through
Drover (with KUBECONFIG as above; logs -f and port-forward run until Ctrl-C,
give each a terminal of its own):
  kubectl -n demo exec deploy/hello -- cat /www/index.html
  kubectl -n demo logs -f deploy/hello
  kubectl -n demo port-forward deploy/hello %[7]d:%[6]d
  curl http://127.0.0.1:%[7]d/                # logs -f shows a line per request
  POD=$(kubectl -n demo get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
  kubectl -n demo cp %[8]s $POD:/tmp/hello.txt
  kubectl -n demo exec deploy/hello -- cat /tmp/hello.txt
  kubectl -n demo cp $POD:/tmp/hello.txt %[9]s

Straight to the apiserver as the same Drover user (the authorized cluster
endpoint: kube-api-auth, a pod in the cluster, checks the Drover token;
drover-server is not on the path):
  kubectl --context %[10]s auth whoami

As %[11]q, a second user (not an admin) bound read-only on the cluster
(password %[12]s):
  kubectl --kubeconfig %[13]s get pods -A                 # allowed
  kubectl --kubeconfig %[13]s create namespace nope       # forbidden

Straight to the apiserver as its own admin, for comparison:
  kubectl --kubeconfig %[14]s get nodes

The server's JSON API (log in first):
  curl --cacert %[15]s -d '{"username":"admin","password":"<password>"}' %[1]s/v3/login

Logs: the server's in %[16]s; the control plane's, kubelets' and
containerd's under %[17]s; the pods' (agents, kube-api-auth) with kubectl:
  kubectl --kubeconfig %[14]s -n cattle-system logs deploy/cattle-cluster-agent
%[18]sCtrl-C stops the server and the cluster (nodes, pods) and leaves nothing running.
demo ready
`, p.ServerURL, p.AdminPassword, p.ClusterID, joinAnd(p.Nodes), q(p.Kubeconfig), helloPort, p.LocalPort,
		q(p.CopyFile), q(p.CopyBack), p.ACEContext, p.Viewer.Username, p.Viewer.Password, q(p.Viewer.Kubeconfig),
		q(p.Direct), q(p.CA), q(p.ServerLog), q(p.Dir+"/cluster/"), p.replicasText())
}

// replicasText says how to try the replicas, when there are some.
func (p printed) replicasText() string {
	if p.Replicas == "" {
		return ""
	}
	var kills strings.Builder
	for i := 1; i < p.NReplicas; i++ {
		fmt.Fprintf(&kills, "  kill $(sed -n %dp %s | cut -d' ' -f1); sleep 1; kubectl get nodes\n", i, shellQuote(p.Replicas))
	}
	return fmt.Sprintf(`
The server is %d replicas on a PostgreSQL behind HAProxy (the server URL
above); one line per replica, "<pid> <its own URL>", in %s.
Kill them one after another, down to one; the kubeconfigs go on working:
%s
`, p.NReplicas, shellQuote(p.Replicas), kills.String())
}

// joinAnd joins names as "a, b and c".
func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " and " + names[len(names)-1]
}

// shellQuote quotes s for sh when it holds anything but safe characters.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '+' || r == ',') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
