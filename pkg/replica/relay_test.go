package replica

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/connlimit"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// fakeTunnels is a replica's tunnel server holding cluster agents of the
// clusters in held.
type fakeTunnels struct{ held map[string]bool }

func (f fakeTunnels) Holding(id string) map[string]tunnel.Held {
	if f.held[id] {
		return map[string]tunnel.Held{agentapi.KindCluster: {Sessions: 1, Since: time.Now()}}
	}
	return map[string]tunnel.Held{}
}

func (f fakeTunnels) Clusters() []string {
	var out []string
	for id := range f.held {
		out = append(out, id)
	}
	return out
}
func (f fakeTunnels) Status(id string) tunnel.Status { return tunnel.Status{Connected: f.held[id]} }
func (f fakeTunnels) CloseCluster(string) int        { return 0 }

// seen is what a replica's last handler got.
type seen struct {
	Replica       string
	Peer          string
	Client        string
	Authorization string
	PeerHeaders   []string
}

type testReplica struct {
	reg   *Registry
	index *Index
	relay *Relay
	srv   *httptest.Server

	mu   sync.Mutex
	last *seen
}

func (r *testReplica) got() *seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.last
	r.last = nil
	return s
}

// startReplica serves the request path of a replica (request info, peer
// recognition, relay, and a last handler recording what it got) over TLS
// with a certificate from ca.
func startReplica(t *testing.T, ctx context.Context, name string, st *store.Store, ca *pki.CA, caPEM []byte, held map[string]bool) *testReplica {
	t.Helper()
	return startReplicaWith(t, ctx, name, st, ca, caPEM, held, replicaOptions{})
}

// replicaOptions vary a test replica.
type replicaOptions struct {
	// conns, when set, caps the replica's connections as the server's
	// listener does.
	conns *connlimit.Options
	// hold, when set, keeps the last handler from answering until it is
	// closed (a watch).
	hold chan struct{}
}

func startReplicaWith(t *testing.T, ctx context.Context, name string, st *store.Store, ca *pki.CA, caPEM []byte,
	held map[string]bool, o replicaOptions) *testReplica {
	t.Helper()
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var capped *connlimit.Listener
	if o.conns != nil {
		opts := *o.conns
		opts.Logger = slog.New(slog.DiscardHandler)
		capped = connlimit.NewListener(ln, opts)
		ln = capped
	}
	leaf, err := ca.Issue(pki.CertOptions{CommonName: name, Usage: pki.ServerAuth, Hosts: []string{"127.0.0.1"},
		Now: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	reg, err := New(Options{Store: st, Logger: log, URL: "https://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	must(t, reg.Join(ctx))
	r := &testReplica{reg: reg}
	r.index = NewIndex(reg, fakeTunnels{held}, st, log)
	for id := range held {
		must(t, st.SetTunnels(ctx, reg.ID(), id, agentapi.KindCluster, 1, time.Now()))
	}
	if r.relay, err = NewRelay(RelayOptions{Registry: reg, Index: r.index, Logger: log, Metrics: metrics.NewServer(), CAPEM: caPEM}); err != nil {
		t.Fatal(err)
	}
	last := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s := &seen{Replica: name, Authorization: req.Header.Get("Authorization")}
		s.Peer, _ = PeerFrom(req.Context())
		if info, ok := request.FromContext(req.Context()); ok {
			s.Client = info.Client.String()
		}
		for k := range req.Header {
			if http.CanonicalHeaderKey(k) == PeerHeader || http.CanonicalHeaderKey(k) == PeerClientHeader {
				s.PeerHeaders = append(s.PeerHeaders, k)
			}
		}
		r.mu.Lock()
		r.last = s
		r.mu.Unlock()
		if o.hold != nil {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-o.hold:
			case <-req.Context().Done():
			}
		}
		io.WriteString(w, name)
	})
	handler := request.WithRequestInfo(r.relay.WithPeer(r.relay.WithRelay(last)), request.ClientOptions{})
	r.srv = httptest.NewUnstartedServer(handler)
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}}
	if capped != nil {
		r.srv.Config.ConnContext = capped.ConnContext
	}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRelay: a request reaching a replica without the cluster's tunnel is
// relayed to the one with it, with the client's own credential and the
// client's address, and the peer headers never reach a handler: not the
// real ones, not ones a client forged in any spelling. A request from a
// peer is never relayed again, and a forged peer credential is nobody's
// (and, as it might be a peer's this replica does not know, not relayed).
func TestRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	must(t, st.CreateCluster(ctx, store.Cluster{ID: "c-aaaaa", Name: "a"}))
	must(t, st.CreateCluster(ctx, store.Cluster{ID: "c-bbbbb", Name: "b"}))
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "test-ca", Now: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	must(t, err)
	caPEM := pki.CertPEM(ca.Cert)
	a := startReplica(t, ctx, "a", st, ca, caPEM, map[string]bool{"c-aaaaa": true})
	b := startReplica(t, ctx, "b", st, ca, caPEM, map[string]bool{"c-bbbbb": true})
	for _, r := range []*testReplica{a, b} {
		must(t, r.reg.refresh(ctx))
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(r *testReplica, path string, h http.Header) *seen {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+path, nil)
		req.Header = h
		resp, err := client.Do(req)
		must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sa, sb := a.got(), b.got()
		if sa != nil && sb != nil {
			t.Fatalf("both replicas served %s", path)
		}
		if sa != nil {
			return sa
		}
		return sb
	}
	user := "Bearer t-0123456789:secret"
	spellings := []string{"Drover-Peer", "drover-peer", "DROVER-PEER", "dRoVeR-pEeR"}
	for _, sp := range spellings {
		t.Run("not relayed, with a forged peer header "+sp, func(t *testing.T) {
			h := http.Header{"Authorization": {user}}
			h[sp] = []string{"i-0123456789:forged"}
			h["Drover-Peer-Client"] = []string{"203.0.113.9"}
			got := get(b, "/k8s/clusters/c-aaaaa/api", h)
			want := &seen{Replica: "b", Client: "127.0.0.1", Authorization: user}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, sp := range []string{"Drover-Peer-Client", "drover-peer-client"} {
		t.Run("relayed, with a forged peer client header "+sp, func(t *testing.T) {
			h := http.Header{"Authorization": {user}}
			h[sp] = []string{"203.0.113.9"}
			got := get(b, "/k8s/clusters/c-aaaaa/api", h)
			want := &seen{Replica: "a", Peer: b.reg.ID(), Client: "127.0.0.1", Authorization: user}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a cluster held here is served here", func(t *testing.T) {
		got := get(b, "/k8s/clusters/c-bbbbb/api", http.Header{"Authorization": {user}})
		if diff := cmp.Diff(&seen{Replica: "b", Client: "127.0.0.1", Authorization: user}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a forged peer credential is nobody's and goes", func(t *testing.T) {
		got := get(a, "/k8s/clusters/c-aaaaa/api", http.Header{PeerHeader: {"i-0123456789:" + b.reg.self.Secret},
			PeerClientHeader: {"203.0.113.9"}})
		if diff := cmp.Diff(&seen{Replica: "a", Client: "127.0.0.1"}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a peer's request is not relayed again", func(t *testing.T) {
		got := get(a, "/k8s/clusters/c-bbbbb/api", http.Header{PeerHeader: {b.reg.credential()}, PeerClientHeader: {"203.0.113.9"}})
		if diff := cmp.Diff(&seen{Replica: "a", Peer: b.reg.ID(), Client: "203.0.113.9"}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a dead peer is not relayed to", func(t *testing.T) {
		_, err := st.ForgetReplicas(ctx, -time.Hour) // everyone is "dead"
		must(t, err)
		must(t, b.reg.refresh(ctx))
		time.Sleep(holdersTTL)
		got := get(b, "/k8s/clusters/c-aaaaa/api", http.Header{"Authorization": {user}})
		if got == nil || got.Replica != "b" {
			t.Errorf("served by %+v, want b (which answers 503 for want of a tunnel)", got)
		}
	})
}

// TestStatusAcrossReplicas: a replica holding a node agent's tunnel says
// the cluster is connected through its cluster agent when a peer holds
// that: the state is the service's, as the relay routes.
func TestStatusAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	must(t, st.CreateCluster(ctx, store.Cluster{ID: "c-aaaaa", Name: "a"}))
	log := slog.New(slog.DiscardHandler)
	a, err := New(Options{Store: st, Logger: log, URL: "https://127.0.0.1:1"})
	must(t, err)
	b, err := New(Options{Store: st, Logger: log, URL: "https://127.0.0.1:2"})
	must(t, err)
	must(t, a.Join(ctx))
	must(t, b.Join(ctx))
	must(t, st.SetTunnels(ctx, a.ID(), "c-aaaaa", agentapi.KindCluster, 1, time.Now()))
	must(t, st.SetTunnels(ctx, b.ID(), "c-aaaaa", agentapi.KindNode, 1, time.Now()))
	nodeHere := nodeTunnels{}
	x := NewIndex(b, nodeHere, st, log)
	if got := x.Status("c-aaaaa"); !got.Connected || got.Via != agentapi.KindCluster || got.Sessions != 2 {
		t.Errorf("status on the replica with the node agent: %+v, want connected via the peer's cluster agent, 2 sessions", got)
	}
}

// nodeTunnels holds a node agent's tunnel of every cluster.
type nodeTunnels struct{}

func (nodeTunnels) Holding(string) map[string]tunnel.Held {
	return map[string]tunnel.Held{agentapi.KindNode: {Sessions: 1, Since: time.Now()}}
}
func (nodeTunnels) Clusters() []string { return nil }
func (nodeTunnels) Status(string) tunnel.Status {
	return tunnel.Status{Connected: true, Via: agentapi.KindNode, Sessions: 1}
}
func (nodeTunnels) CloseCluster(string) int { return 0 }
