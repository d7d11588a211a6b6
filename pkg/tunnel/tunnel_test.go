package tunnel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rancher/remotedialer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

func TestSessionKeyedByTokenCluster(t *testing.T) {
	f := newFixture(t)
	regAlpha := f.addCluster("c-alpha", time.Time{})
	f.addCluster("c-beta", time.Time{})

	p := f.params(agentapi.KindCluster, "", "sa-alpha")
	enc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+regAlpha)
	h.Set(agentapi.ParamsHeader, enc)
	// Everything else a client could use to name a cluster says c-beta,
	// including remotedialer's own peer headers.
	h.Set(remotedialer.ID, "c-beta")
	h.Set(remotedialer.Token, "c-beta")
	h.Set("X-Drover-Cluster", "c-beta")
	a := f.startAgentHeaders(p, h)
	f.waitLive("c-alpha", 1)

	if s, ok := f.tun.Session("c-beta"); ok {
		t.Fatalf("Session(c-beta) = %+v from a c-alpha registration token", s.Params)
	}
	if diff := cmp.Diff(Status{}, f.tun.Status("c-beta")); diff != "" {
		t.Errorf("Status(c-beta) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"c-alpha"}, f.tun.Clusters()); diff != "" {
		t.Errorf("Clusters() (-want +got):\n%s", diff)
	}
	sess, ok := f.tun.Session("c-alpha")
	if !ok || sess.ClusterID != "c-alpha" {
		t.Fatalf("Session(c-alpha) = %v, %v", sess, ok)
	}
	body, err := get(t, sess.Transport(false), sess.BaseURL()+"/version")
	if err != nil {
		t.Fatal(err)
	}
	if body != "backend saw /version" {
		t.Errorf("request through c-alpha: body %q, want the backend's", body)
	}
	f.checkServedBy("/version", a)
}

func TestConnectRefusedWithoutValidToken(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	expired := f.addRegistration("c-alpha", f.clock.Now().Add(-time.Minute))
	expiresNow := f.addRegistration("c-alpha", f.clock.Now())
	deleted := f.addCluster("c-gone", time.Time{})
	if err := f.store.DeleteCluster(t.Context(), "c-gone"); err != nil {
		t.Fatal(err)
	}
	unknown, err := token.New(ids.Registration)
	if err != nil {
		t.Fatal(err)
	}
	regTok, err := token.Parse(reg)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := token.Token{ID: regTok.ID, Secret: unknown.Secret}.String()
	peer, err := token.New(ids.Replica) // a server replica's peer credential
	if err != nil {
		t.Fatal(err)
	}
	peerHash, _ := token.Hash(peer)
	if err := f.store.RegisterReplica(t.Context(), store.Replica{ID: peer.ID, URL: "https://127.0.0.1:1", Peer: peerHash}); err != nil {
		t.Fatal(err)
	}

	p := f.params(agentapi.KindCluster, "", "sa-secret-value-0123456789")
	enc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		auth []string
	}{
		{"no token", nil},
		{"basic scheme", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(reg))}},
		{"malformed", []string{"Bearer not-a-token"}},
		{"unknown id", []string{"Bearer " + unknown.String()}},
		{"wrong secret", []string{"Bearer " + wrongSecret}},
		{"a replica's peer credential", []string{"Bearer " + peer.String()}},
		{"expired", []string{"Bearer " + expired}},
		{"expires this instant", []string{"Bearer " + expiresNow}},
		{"cluster deleted", []string{"Bearer " + deleted}},
		{"valid token twice", []string{"Bearer " + reg, "Bearer " + reg}},
		{"valid and another", []string{"Bearer " + reg, "Bearer " + unknown.String()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{agentapi.ParamsHeader: {enc}}
			if tc.auth != nil {
				h["Authorization"] = tc.auth
			}
			code, body := f.connectStatus(h)
			if code != http.StatusUnauthorized {
				t.Fatalf("connect status %d, want 401; body %s", code, body)
			}
			checkStatus(t, body, metav1.Status{Code: 401, Reason: metav1.StatusReasonUnauthorized, Message: "Unauthorized"})
		})
	}
	if got := f.tun.Clusters(); len(got) != 0 {
		t.Errorf("Clusters() = %v after refused connects", got)
	}
	for _, id := range []string{"c-alpha", "c-gone"} {
		if diff := cmp.Diff(Status{}, f.tun.Status(id)); diff != "" {
			t.Errorf("Status(%s) (-want +got):\n%s", id, diff)
		}
	}
	for _, secret := range []string{regTok.Secret, unknown.Secret, p.Token} {
		if strings.Contains(f.logs.String(), secret) {
			t.Errorf("a secret was logged:\n%s", f.logs)
		}
	}
	if len(f.backend.requests()) != 0 {
		t.Errorf("backend got %d requests", len(f.backend.requests()))
	}
	// The control: the same token and parameters do connect.
	f.startAgent(reg, p)
	f.waitLive("c-alpha", 1)
}

// TestNodeTokenCannotOpenClusterSession: the API mints a separate token for
// node agents so that a node agent cannot pose as the cluster agent, whose
// session carries the cluster's traffic whenever it is up.
func TestNodeTokenCannotOpenClusterSession(t *testing.T) {
	f := newFixture(t)
	clusterTok := f.addCluster("c-alpha", time.Time{})
	nodeTok := f.addRegistrationKind("c-alpha", store.AgentNode, time.Time{})

	enc, err := f.params(agentapi.KindCluster, "", "sa-posing-node").Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{agentapi.ParamsHeader: {enc}}
	h.Set("Authorization", "Bearer "+nodeTok)
	code, body := f.connectStatus(h)
	if code != http.StatusForbidden {
		t.Fatalf("cluster-agent connect with a node token: status %d, want 403; body %s", code, body)
	}
	checkStatus(t, body, metav1.Status{Code: 403, Reason: metav1.StatusReasonForbidden,
		Message: "this registration token admits node agents only"})
	if diff := cmp.Diff(Status{}, f.tun.Status("c-alpha")); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}

	// Each token still admits its own kind, and the cluster token a node
	// agent (agents installed before tokens had kinds use it).
	f.startAgent(clusterTok, f.params(agentapi.KindCluster, "", "sa-cluster"))
	f.waitLive("c-alpha", 1)
	f.startAgent(nodeTok, f.params(agentapi.KindNode, "node-1", ""))
	f.waitLive("c-alpha", 2)
	f.startAgent(clusterTok, f.params(agentapi.KindNode, "node-2", ""))
	f.waitLive("c-alpha", 3)
	if s, _ := f.tun.Session("c-alpha"); s.Params.Token != "sa-cluster" {
		t.Errorf("Session = %s, want the cluster agent's", s.Params.Token)
	}
}

// TestConnectRefusedWithInvalidParams checks that parameters the wire
// contract refuses (the rules themselves are tested in package agentapi)
// get a 400 Status that quotes no credential, and open no session.
func TestConnectRefusedWithInvalidParams(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	const sa = "sa-secret-value-0123456789"
	valid := f.params(agentapi.KindCluster, "", sa)

	// raw encodes a JSON object built from valid with changes applied.
	raw := func(change func(m map[string]any)) string {
		b, err := json.Marshal(valid)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	encode := func(p agentapi.AgentParams) string {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	with := func(change func(p *agentapi.AgentParams)) string {
		p := valid
		change(&p)
		return encode(p)
	}
	garbagePEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	tests := []struct {
		name   string
		params string
	}{
		{"missing", ""},
		{"not base64url", "!!" + encode(valid)},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("kind=cluster"))},
		{"claims a cluster", raw(func(m map[string]any) { m["clusterId"] = "c-beta" })},
		{"unknown kind", with(func(p *agentapi.AgentParams) { p.Kind = "admin" })},
		{"node name not DNS", with(func(p *agentapi.AgentParams) { p.Kind, p.Node = agentapi.KindNode, "Node_1" })},
		{"CA not a certificate", with(func(p *agentapi.AgentParams) { p.CACert = garbagePEM })},
		{"SA token splits headers", with(func(p *agentapi.AgentParams) { p.Token = sa + "\r\nImpersonate-User: system:admin" })},
		{"too large", strings.Repeat("A", agentapi.MaxParamsLen+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("Authorization", "Bearer "+reg)
			if tc.params != "" {
				h.Set(agentapi.ParamsHeader, tc.params)
			}
			code, body := f.connectStatus(h)
			if code != http.StatusBadRequest {
				t.Fatalf("connect status %d, want 400; body %s", code, body)
			}
			var st metav1.Status
			if err := json.Unmarshal([]byte(body), &st); err != nil || st.Code != 400 || st.Reason != metav1.StatusReasonBadRequest {
				t.Errorf("body %s is not a 400 Status (%v)", body, err)
			}
			if strings.Contains(body, sa) {
				t.Errorf("the response quotes the SA token: %s", body)
			}
		})
	}
	if diff := cmp.Diff(Status{}, f.tun.Status("c-alpha")); diff != "" {
		t.Errorf("Status(c-alpha) (-want +got):\n%s", diff)
	}
	if strings.Contains(f.logs.String(), sa) {
		t.Errorf("the SA token was logged:\n%s", f.logs)
	}
	// The control: the valid parameters connect.
	f.startAgent(reg, valid)
	f.waitLive("c-alpha", 1)
}

func TestSessionSelection(t *testing.T) {
	f := newFixture(t)
	const id = "c-alpha"
	reg := f.addCluster(id, time.Time{})

	probes := 0
	// via checks that Session picks want and that a request really travels
	// through want's tunnel.
	via := func(want *testAgent) {
		t.Helper()
		sess, ok := f.tun.Session(id)
		name := func(p agentapi.AgentParams) string { return p.Kind + "/" + p.Node + "/" + p.Token }
		if want == nil {
			if ok {
				t.Fatalf("Session = %s, want none", name(sess.Params))
			}
			return
		}
		if !ok || name(sess.Params) != name(want.params) {
			got := "none"
			if ok {
				got = name(sess.Params)
			}
			t.Fatalf("Session = %s, want %s", got, name(want.params))
		}
		probes++
		path := fmt.Sprintf("/probe/%d", probes)
		if _, err := get(t, sess.Transport(false), sess.BaseURL()+path); err != nil {
			t.Fatal(err)
		}
		f.checkServedBy(path, want)
	}

	// Node agents carry nothing before a cluster agent reported the
	// apiserver: refused.
	enc, err := f.params(agentapi.KindNode, "node-0", "").Encode()
	if err != nil {
		t.Fatal(err)
	}
	if code, body := f.connectStatus(http.Header{"Authorization": {"Bearer " + reg}, agentapi.ParamsHeader: {enc}}); code != http.StatusConflict ||
		!strings.Contains(body, "no cluster agent has reported") {
		t.Fatalf("node agent before any cluster agent: %d %s", code, body)
	}
	c1 := f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-c1"))
	f.waitLive(id, 1)
	via(c1)
	n1 := f.startAgent(reg, f.params(agentapi.KindNode, "node-1", ""))
	f.waitLive(id, 2)
	via(c1) // a node session does not beat a cluster session
	n2 := f.startAgent(reg, f.params(agentapi.KindNode, "node-2", ""))
	f.waitLive(id, 3)
	via(c1) // a newer node session does not beat a cluster session
	c2 := f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-c2"))
	f.waitLive(id, 4)
	via(c2)
	if st := f.tun.Status(id); !st.Connected || st.Via != agentapi.KindCluster || st.Sessions != 4 {
		t.Errorf("Status = %+v, want connected via cluster with 4 sessions", st)
	}

	c2.Stop()
	f.waitLive(id, 3)
	via(c1)
	c1.Stop()
	f.waitLive(id, 2)
	via(n2)
	if st := f.tun.Status(id); !st.Connected || st.Via != agentapi.KindNode || st.Sessions != 2 {
		t.Errorf("Status = %+v, want connected via node with 2 sessions", st)
	}
	n2.Stop()
	f.waitLive(id, 1)
	via(n1)
	n1.Stop()
	f.waitLive(id, 0)
	via(nil)
}

func TestStatusReportsDisconnect(t *testing.T) {
	f := newFixture(t)
	const id = "c-alpha"
	reg := f.addCluster(id, time.Time{})
	if diff := cmp.Diff(Status{}, f.tun.Status(id)); diff != "" {
		t.Errorf("Status before any agent (-want +got):\n%s", diff)
	}

	t0 := f.clock.Now()
	a := f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-1"))
	f.waitLive(id, 1)
	if diff := cmp.Diff(Status{Connected: true, Via: agentapi.KindCluster, Since: &t0, Sessions: 1, ClusterAgents: 1}, f.tun.Status(id)); diff != "" {
		t.Errorf("Status while connected (-want +got):\n%s", diff)
	}

	f.clock.Add(time.Hour)
	t1 := f.clock.Now()
	a.Stop()
	f.waitLive(id, 0)
	if diff := cmp.Diff(Status{DisconnectedAt: &t1}, f.tun.Status(id)); diff != "" {
		t.Errorf("Status after the agent left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, f.tun.Clusters()); diff != "" {
		t.Errorf("Clusters() (-want +got):\n%s", diff)
	}

	f.clock.Add(time.Minute)
	t2 := f.clock.Now()
	f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-2"))
	f.waitLive(id, 1)
	if diff := cmp.Diff(Status{Connected: true, Via: agentapi.KindCluster, Since: &t2, Sessions: 1, ClusterAgents: 1}, f.tun.Status(id)); diff != "" {
		t.Errorf("Status after reconnect (-want +got):\n%s", diff)
	}
}

func TestSessionDialsOnlyAdvertisedEndpoint(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	a := f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-1"))
	f.waitLive("c-alpha", 1)
	sess, _ := f.tun.Session("c-alpha")

	body, err := get(t, sess.Transport(false), "https://169.254.169.254:443/latest/meta-data")
	if err != nil {
		t.Fatal(err)
	}
	if body != "backend saw /latest/meta-data" {
		t.Errorf("body %q, want the advertised backend's", body)
	}
	reqs := f.backend.requests()
	if len(reqs) != 1 || reqs[0].Host != "169.254.169.254:443" {
		t.Fatalf("backend got %d requests; want the one request at the endpoint", len(reqs))
	}
	f.checkServedBy("/latest/meta-data", a)
}

func TestSessionVerifiesEndpointCA(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	p := f.params(agentapi.KindCluster, "", "sa-1")
	p.CACert = selfSignedPEM(t) // not the CA of the backend's certificate
	f.startAgent(reg, p)
	f.waitLive("c-alpha", 1)
	sess, _ := f.tun.Session("c-alpha")

	_, err := get(t, sess.Transport(false), sess.BaseURL()+"/version")
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("request to a backend the advertised CA did not sign: err %v, want a certificate verification error", err)
	}
	if n := len(f.backend.requests()); n != 0 {
		t.Errorf("backend got %d requests", n)
	}
}

func checkStatus(t *testing.T, body string, want metav1.Status) {
	t.Helper()
	want.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	want.Status = metav1.StatusFailure
	var got metav1.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q is not a Status: %v", body, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

// selfSignedPEM returns a fresh self-signed CA certificate.
func selfSignedPEM(tb testing.TB) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "unrelated CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestNodeAgentsCarryBytesNeverTrust: a node agent is admitted only to the
// apiserver endpoint and CA the cluster agent reported; one that reports
// another endpoint, another CA, or the same CA with another one added, is
// refused; a credential from a node agent is refused; a cluster agent that
// reconnects with a new endpoint updates the record (in the store, so it
// survives a restart), and node sessions to the old one are no longer used.
// Only the cluster agent's session is the ClusterAgent.
func TestNodeAgentsCarryBytesNeverTrust(t *testing.T) {
	f := newFixture(t)
	const id = "c-alpha"
	reg := f.addCluster(id, time.Time{})
	c1 := f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-c1"))
	f.waitLive(id, 1)
	if c, err := f.store.Cluster(context.Background(), id); err != nil || c.AgentEndpoint != f.backend.endpoint() {
		t.Fatalf("recorded endpoint %q, %v; want %s", c.AgentEndpoint, err, f.backend.endpoint())
	}
	other := newBackend(t) // httptest's servers share one CA; another comes from pki
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "another CA", Now: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	otherCA := pki.CertPEM(ca.Cert)
	connect := func(p agentapi.AgentParams) (int, string) {
		enc, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return f.connectStatus(http.Header{"Authorization": {"Bearer " + reg}, agentapi.ParamsHeader: {enc}})
	}
	node := f.params(agentapi.KindNode, "node-1", "")
	tests := []struct {
		name   string
		change func(p *agentapi.AgentParams)
		code   int
		msg    string
	}{
		{"another endpoint", func(p *agentapi.AgentParams) { p.Endpoint = other.endpoint() }, 403, "the cluster agent reported another"},
		{"another CA", func(p *agentapi.AgentParams) { p.CACert = otherCA }, 403, "another apiserver CA"},
		{"the CA with another added", func(p *agentapi.AgentParams) { p.CACert = append(append([]byte{}, p.CACert...), otherCA...) }, 403, "another apiserver CA"},
		{"another endpoint and another CA", func(p *agentapi.AgentParams) { p.Endpoint, p.CACert = other.endpoint(), otherCA }, 403, "reported another"},
		{"a credential", func(p *agentapi.AgentParams) { p.Token = "sa-from-a-node" }, 400, "no credential"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := node
			tc.change(&p)
			code, body := connect(p)
			if code != tc.code || !strings.Contains(body, tc.msg) {
				t.Errorf("status %d %s; want %d with %q", code, body, tc.code, tc.msg)
			}
		})
	}
	n1 := f.startAgent(reg, node)
	f.waitLive(id, 2)
	if s, ok := f.tun.ClusterAgent(id); !ok || s.Params.Kind != agentapi.KindCluster {
		t.Fatalf("ClusterAgent = %v, %v", s, ok)
	}

	// A new server (the record comes from the store) admits the same node
	// agent and refuses another endpoint.
	f2 := New(Options{Store: f.store, Logger: slog.New(slog.DiscardHandler)})
	if code, err := f2.checkEndpoint(context.Background(), id, node); err != nil {
		t.Errorf("restarted server refused the node agent: %d %v", code, err)
	}
	moved := node
	moved.Endpoint = other.endpoint()
	if code, _ := f2.checkEndpoint(context.Background(), id, moved); code != http.StatusForbidden {
		t.Errorf("restarted server: another endpoint answered %d", code)
	}

	// The cluster agent moves to another endpoint: the record follows, and
	// the node session to the old endpoint is no longer used.
	c1.Stop()
	f.waitLive(id, 1)
	if s, ok := f.tun.Session(id); !ok || s.Params.Kind != agentapi.KindNode {
		t.Fatalf("without a cluster agent the node agent carries requests: %v", ok)
	}
	c2 := f.params(agentapi.KindCluster, "", "sa-c2")
	c2.Endpoint = other.endpoint()
	ca2 := f.startAgent(reg, c2)
	f.waitLive(id, 2)
	if c, _ := f.store.Cluster(context.Background(), id); c.AgentEndpoint != other.endpoint() {
		t.Errorf("recorded endpoint %q after the move, want %s", c.AgentEndpoint, other.endpoint())
	}
	ca2.Stop()
	f.waitLive(id, 1)
	if s, ok := f.tun.Session(id); ok {
		t.Errorf("a node session to the old endpoint carries requests: %s", s.Params.Endpoint)
	}
	if st := f.tun.Status(id); st.Connected {
		t.Errorf("Status = %+v, want not connected", st)
	}
	n1.Stop()
}

// TestOldAgentToldWhy: an agent of the previous protocol (it handed over a
// token that could impersonate anyone) is refused with a message saying
// what to do, which the cluster's status shows until a current cluster
// agent connects.
func TestOldAgentToldWhy(t *testing.T) {
	f := newFixture(t)
	const id = "c-alpha"
	reg := f.addCluster(id, time.Time{})
	old := f.params(agentapi.KindCluster, "", "sa-old")
	old.Protocol = 0
	enc, err := old.Encode()
	if err != nil {
		t.Fatal(err)
	}
	code, body := f.connectStatus(http.Header{"Authorization": {"Bearer " + reg}, agentapi.ParamsHeader: {enc}})
	if code != http.StatusBadRequest || !strings.Contains(body, "re-apply the cluster's import manifest") {
		t.Fatalf("old agent: %d %s", code, body)
	}
	if st := f.tun.Status(id); st.Connected || !strings.Contains(st.Refused, "older than the server") {
		t.Errorf("Status = %+v, want the refusal shown", st)
	}
	f.startAgent(reg, f.params(agentapi.KindCluster, "", "sa-new"))
	f.waitLive(id, 1)
	if st := f.tun.Status(id); st.Refused != "" {
		t.Errorf("Status = %+v after a current agent connected, want no refusal", st)
	}
}

// TestAdmit: Admit (the server's move of the connection to the agents'
// pool) is asked only once the agent is verified; its refusal is a 503
// that opens no session.
func TestAdmit(t *testing.T) {
	f := newFixture(t)
	reg := f.addCluster("c-alpha", time.Time{})
	var asked atomic.Int32
	f.tun.opts.Admit = func(*http.Request) error { asked.Add(1); return errors.New("too many agent connections") }
	enc, err := f.params(agentapi.KindCluster, "", "sa-cluster").Encode()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := f.connectStatus(http.Header{agentapi.ParamsHeader: {enc}, "Authorization": {"Bearer forged:secret"}}); code != http.StatusUnauthorized {
		t.Fatalf("forged token: %d, want 401", code)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("Admit asked %d times for an agent that was not verified", n)
	}
	code, body := f.connectStatus(http.Header{agentapi.ParamsHeader: {enc}, "Authorization": {"Bearer " + reg}})
	if code != http.StatusServiceUnavailable || asked.Load() != 1 {
		t.Fatalf("refused by Admit: %d (asked %d), want 503; body %s", code, asked.Load(), body)
	}
	if diff := cmp.Diff(Status{}, f.tun.Status("c-alpha")); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}
