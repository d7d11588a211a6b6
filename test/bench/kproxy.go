package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/test/harness"
)

// The anchor of the throughput comparison: the machine's real `kubectl
// proxy`, one plain local hop in front of the apiserver with the direct
// path's admin credentials. It serves HTTP/1.1 without TLS on loopback, so
// its clients send no credentials.
const (
	// pathKubectlProxy is the path's name in the report.
	pathKubectlProxy = "kubectl proxy"
	// procKubectlProxy is its process in the CPU table.
	procKubectlProxy = "kubectl-proxy"
	// kubectlProxyStart bounds the wait for its "Starting to serve" line.
	kubectlProxyStart = 30 * time.Second
	// plainIdleConns keeps one idle connection per worker or stream (the
	// options allow up to 256 GET workers): over HTTP/1.1 each concurrent
	// request needs its own connection, and client-go's default pool of 25
	// would close and reopen connections at c=32, a cost of the client's
	// pool rather than of the proxy.
	plainIdleConns = 256
)

// serveLinePrefix starts the line kubectl proxy prints on stdout once it
// listens.
const serveLinePrefix = "Starting to serve on "

// parseServeLine returns the address of kubectl proxy's "Starting to serve
// on 127.0.0.1:PORT" line. Only a loopback address with a port is accepted:
// the bench sends its requests there without TLS.
func parseServeLine(line string) (string, error) {
	_, addr, ok := strings.Cut(strings.TrimSpace(line), serveLinePrefix)
	if !ok {
		return "", fmt.Errorf("not a %q line: %q", strings.TrimSpace(serveLinePrefix), line)
	}
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		return "", fmt.Errorf("kubectl proxy address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("kubectl proxy address %q: not a loopback IP", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("kubectl proxy address %q: bad port", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// kubectlProxy is a running `kubectl proxy` and a target through it.
type kubectlProxy struct {
	proc   *harness.Process
	target target
}

// startKubectlProxy starts `kubectl --kubeconfig kubeconfig proxy` on a free
// loopback port, its stderr and stdout in logPath, and waits until it
// serves. The caller stops it; it also dies with the bench (Pdeathsig).
func startKubectlProxy(ctx context.Context, kubeconfig, logPath string, log *slog.Logger) (_ *kubectlProxy, err error) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, fmt.Errorf("find kubectl: %w", err)
	}
	p, err := harness.Start(procKubectlProxy, bin,
		[]string{"--kubeconfig", kubeconfig, "proxy", "--port=0", "--address=127.0.0.1"}, nil, logPath)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Stop(5 * time.Second)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, kubectlProxyStart)
	defer cancel()
	line, err := p.WaitLine(wctx, serveLinePrefix)
	if err != nil {
		return nil, err
	}
	addr, err := parseServeLine(line)
	if err != nil {
		return nil, err
	}
	t, err := newPlainTarget(pathKubectlProxy, "http://"+addr)
	if err != nil {
		return nil, err
	}
	log.Info("kubectl proxy serving", "addr", addr, "pid", p.PID(), "kubectl", bin)
	return &kubectlProxy{proc: p, target: t}, nil
}

// stop ends kubectl proxy (SIGTERM, SIGKILL after 5 s) and waits for it.
func (k *kubectlProxy) stop() { k.proc.Stop(5 * time.Second) }

// newPlainTarget is a target over plain HTTP (no TLS, no credentials) with
// the same client settings as the others, and a connection pool as large
// as the largest load.
func newPlainTarget(name, url string) (target, error) {
	t := target{name: name, clients: map[string]*kubernetes.Clientset{}}
	for _, enc := range []string{encGzip, encIdentity, encIdentityHeader} {
		c := benchConfig(&rest.Config{Host: url}, enc)
		// With a Transport of its own, client-go leaves compression to it.
		c.Transport = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: plainIdleConns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  c.DisableCompression,
		}
		cs, err := kubernetes.NewForConfig(c)
		if err != nil {
			return target{}, err
		}
		t.clients[enc] = cs
	}
	return t, nil
}
