package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rancher/remotedialer"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/test/harness"
)

// TestAgentDialPolicy runs the agent binary against a bare remotedialer
// server standing in for Drover, then asks the agent to dial things.
func TestAgentDialPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	paramsc := make(chan agentapi.AgentParams, 1)
	rd := remotedialer.New(func(r *http.Request) (string, bool, error) {
		p, err := agentapi.ParseParams(r.Header.Get(agentapi.ParamsHeader))
		if err != nil {
			return "", false, err
		}
		select {
		case paramsc <- p:
		default:
		}
		return "agent", true, nil
	}, remotedialer.DefaultErrorWriter)
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	mux.HandleFunc("/cacerts", func(w http.ResponseWriter, _ *http.Request) { w.Write(caPEM) })
	mux.Handle(agentapi.ConnectPath, rd)
	sum := sha256.Sum256(caPEM)

	tok, _ := token.New(ids.Registration)
	// The agent runs as its binary, not in this process: remotedialer
	// v0.6.1's own data races (rancher/remotedialer#254, #265) fire on the
	// agent's side and would fail this race-enabled test on library code.
	ag, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: t.TempDir(), ServerURL: srv.URL, CAChecksum: hex.EncodeToString(sum[:]),
		Token: tok.String(), Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: agentapi.KindCluster,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop(5 * time.Second)

	var params agentapi.AgentParams
	select {
	case params = <-paramsc:
	case <-ctx.Done():
		t.Fatalf("agent never connected (log %s)", ag.LogPath)
	}
	for !rd.HasSession("agent") {
		time.Sleep(10 * time.Millisecond)
	}
	dial := rd.Dialer("agent")

	t.Run("the apiserver endpoint is reachable", func(t *testing.T) {
		c, err := dial(ctx, "tcp", params.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pool, err := agentapi.CertPool(params.CACert)
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(params.Endpoint)
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: host})
		if err := tc.HandshakeContext(ctx); err != nil {
			t.Fatalf("TLS to the apiserver through the tunnel: %v", err)
		}
	})

	t.Run("anything else is refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var accepted atomic.Int32
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
		c, err := dial(ctx, "tcp", l.Addr().String())
		if err == nil {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.ReadAll(c)
			c.Close()
			if err == nil {
				t.Error("reading a refused stream ended cleanly; want an error")
			}
		}
		if n := accepted.Load(); n != 0 {
			t.Errorf("the agent dialed %s (%d connections) on the server's behalf", l.Addr(), n)
		}
		if !rd.HasSession("agent") {
			t.Error("a refused dial tore the tunnel down")
		}
	})

	t.Run("the handed-over credential is the controller's and impersonates nobody", func(t *testing.T) {
		cfg := &rest.Config{
			Host: "https://" + params.Endpoint, BearerToken: params.Token,
			TLSClientConfig: rest.TLSClientConfig{CAData: params.CACert},
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		if _, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !errors.IsForbidden(err) {
			t.Errorf("listing kube-system secrets with the controller's token: %v, want Forbidden", err)
		}
		for _, imp := range []rest.ImpersonationConfig{
			{UserName: "someone", Groups: []string{"drover:admins"}},
			{UserName: "someone", Groups: []string{"system:masters"}},
			{UserName: "system:serviceaccount:kube-system:default"},
		} {
			cfg.Impersonate = imp
			if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !errors.IsForbidden(err) {
				t.Errorf("impersonating %+v with the controller's token: %v, want Forbidden", imp, err)
			}
		}
	})
}
