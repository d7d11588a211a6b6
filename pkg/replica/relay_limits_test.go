package replica

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/connlimit"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/store"
)

// TestRelayPeerConnections: the requests one replica relays to another
// all come from one address, the sending replica's, one connection each
// while they stream (watches, logs, exec). The receiving replica's cap of
// connections per address must not refuse them: a connection on which a
// peer proved itself leaves its address's count, so the relayed watches of
// many users (or of one user holding many) never cut every other user's
// relay.
func TestRelayPeerConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	must(t, st.CreateCluster(ctx, store.Cluster{ID: "c-bbbbb", Name: "b"}))
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "test-ca", Now: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	must(t, err)
	caPEM := pki.CertPEM(ca.Cert)
	hold := make(chan struct{})
	defer close(hold)
	a := startReplica(t, ctx, "a", st, ca, caPEM, nil)
	b := startReplicaWith(t, ctx, "b", st, ca, caPEM, map[string]bool{"c-bbbbb": true},
		replicaOptions{conns: &connlimit.Options{MaxConnsPerAddress: 2}, hold: hold})
	for _, r := range []*testReplica{a, b} {
		must(t, r.reg.refresh(ctx))
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	const watches = 5
	var got []string
	for i := range watches {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.srv.URL+"/k8s/clusters/c-bbbbb/api?watch=1", nil)
		req.Header.Set("Authorization", "Bearer t-0123456789:secret")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		defer resp.Body.Close()
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Retry-After")))
	}
	want := make([]string, watches)
	for i := range want {
		want[i] = "200 "
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("relayed watches over a per-address cap of 2 (-want +got):\n%s", diff)
	}
}

// TestRelayNoLoop: a relayed request is never relayed again, even when the
// replica it reaches does not know the sender yet (the sender joined
// within a beat: it reads the live replicas again, at most once a second)
// or cannot verify it at all; and a request carrying this replica's own
// credential (its --peer-url reached a load balancer that sent the relay
// back) stays here. Before, two replicas that did not know each other
// relayed a request for a cluster both were recorded holding back and
// forth until something broke.
func TestRelayNoLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	must(t, st.CreateCluster(ctx, store.Cluster{ID: "c-bbbbb", Name: "b"}))
	must(t, st.CreateCluster(ctx, store.Cluster{ID: "c-ccccc", Name: "c"}))
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "test-ca", Now: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	must(t, err)
	caPEM := pki.CertPEM(ca.Cert)
	a := startReplica(t, ctx, "a", st, ca, caPEM, nil)
	b := startReplica(t, ctx, "b", st, ca, caPEM, map[string]bool{"c-bbbbb": true})
	// Both are recorded holding c-ccccc, which neither holds any more.
	for _, r := range []*testReplica{a, b} {
		must(t, st.SetTunnels(ctx, r.reg.ID(), "c-ccccc", "cluster", 1, time.Now()))
	}
	// forget makes r know only itself, as if the other had joined since its
	// last beat; reread says whether it may read the live replicas again.
	forget := func(r *testReplica, reread bool) {
		r.reg.mu.Lock()
		r.reg.live = map[string]store.Replica{r.reg.ID(): r.reg.live[r.reg.ID()]}
		r.reg.missAt = time.Now()
		if reread {
			r.reg.missAt = time.Time{}
		}
		r.reg.mu.Unlock()
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(r *testReplica, path string, h http.Header) *seen {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+path, nil)
		req.Header = h
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return nil
		}
		resp.Body.Close()
		sa, sb := a.got(), b.got()
		if sa != nil {
			return sa
		}
		return sb
	}
	user := "Bearer t-0123456789:secret"
	t.Run("neither knows the other, and may not read again", func(t *testing.T) {
		forget(a, false)
		forget(b, false)
		got := get(a, "/k8s/clusters/c-ccccc/api", http.Header{"Authorization": {user}})
		want := &seen{Replica: "b", Client: "127.0.0.1", Authorization: user}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("the receiver reads the live replicas again and knows the sender", func(t *testing.T) {
		forget(a, false)
		forget(b, true)
		got := get(a, "/k8s/clusters/c-ccccc/api", http.Header{"Authorization": {user}})
		want := &seen{Replica: "b", Peer: a.reg.ID(), Client: "127.0.0.1", Authorization: user}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a relay that came back to its sender stays there", func(t *testing.T) {
		got := get(a, "/k8s/clusters/c-bbbbb/api", http.Header{"Authorization": {user},
			PeerHeader: {a.reg.credential()}, PeerClientHeader: {"203.0.113.9"}})
		want := &seen{Replica: "a", Peer: a.reg.ID(), Client: "203.0.113.9", Authorization: user}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
