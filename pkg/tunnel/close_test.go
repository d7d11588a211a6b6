package tunnel

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// TestCloseCluster: closing a deleted cluster's tunnels drops its sessions
// from the table at once and ends them (their transports stop working and
// remotedialer forgets them); another cluster's session is untouched, and
// the agents, whose registration tokens went with the cluster, cannot
// connect again.
func TestCloseCluster(t *testing.T) {
	f := newFixture(t)
	regAlpha := f.addCluster("c-alpha", time.Time{})
	regBeta := f.addCluster("c-beta", time.Time{})
	f.startAgent(regAlpha, f.params(agentapi.KindCluster, "", "sa-alpha"))
	f.waitLive("c-alpha", 1) // node agents are let in once the cluster agent reported the apiserver
	f.startAgent(regAlpha, f.params(agentapi.KindNode, "node-1", ""))
	f.startAgent(regBeta, f.params(agentapi.KindCluster, "", "sa-beta"))
	f.waitLive("c-alpha", 2)
	f.waitLive("c-beta", 1)
	alpha, _ := f.tun.Session("c-alpha")
	f.tun.mu.Lock()
	keys := []string{f.tun.sessions["c-alpha"][0].key, f.tun.sessions["c-alpha"][1].key}
	f.tun.mu.Unlock()

	if err := f.store.DeleteCluster(t.Context(), "c-alpha"); err != nil {
		t.Fatal(err)
	}
	if n := f.tun.CloseCluster("c-alpha"); n != 2 {
		t.Errorf("CloseCluster = %d, want 2", n)
	}
	// At once: nothing hands out the cluster's sessions any more.
	if s, ok := f.tun.Session("c-alpha"); ok {
		t.Errorf("Session(c-alpha) = %+v after CloseCluster", s.Params)
	}
	if diff := cmp.Diff([]string{"c-beta"}, f.tun.Clusters()); diff != "" {
		t.Errorf("Clusters() (-want +got):\n%s", diff)
	}
	if st := f.tun.Status("c-alpha"); st.Connected || st.Sessions != 0 {
		t.Errorf("Status(c-alpha) = %+v, want disconnected", st)
	}
	// Soon: the tunnels are down.
	defer func() {
		if t.Failed() {
			t.Log(f.logs.String())
		}
	}()
	waitFor(t, "the closed sessions to end", func() bool {
		return !f.tun.rd.HasSession(keys[0]) && !f.tun.rd.HasSession(keys[1]) &&
			strings.Count(f.logs.String(), `msg="agent disconnected" cluster=c-alpha`) == 2
	})
	if _, err := get(t, alpha.Transport(false), alpha.BaseURL()+"/after-close"); err == nil {
		t.Error("a request went through a closed session")
	}
	// Nothing of the deleted cluster stays in the server's tables, even
	// after its sessions' ends were handled.
	f.tun.mu.Lock()
	_, gone := f.tun.lastGone["c-alpha"]
	_, ep := f.tun.endpoints["c-alpha"]
	_, sess := f.tun.sessions["c-alpha"]
	f.tun.mu.Unlock()
	if gone || ep || sess {
		t.Errorf("kept for the deleted cluster: lastGone %v, endpoint %v, sessions %v", gone, ep, sess)
	}
	beta, ok := f.tun.Session("c-beta")
	if !ok {
		t.Fatal("c-beta lost its session")
	}
	if body, err := get(t, beta.Transport(false), beta.BaseURL()+"/beta"); err != nil || body != "backend saw /beta" {
		t.Errorf("request through c-beta: %q, %v", body, err)
	}
	// The agents cannot come back.
	enc, err := f.params(agentapi.KindCluster, "", "sa-alpha").Encode()
	if err != nil {
		t.Fatal(err)
	}
	if code, body := f.connectStatus(http.Header{"Authorization": {"Bearer " + regAlpha}, agentapi.ParamsHeader: {enc}}); code != http.StatusUnauthorized {
		t.Errorf("reconnect of a deleted cluster's agent: %d %s, want 401", code, body)
	}
	if n := f.tun.CloseCluster("c-alpha"); n != 0 {
		t.Errorf("second CloseCluster = %d, want 0", n)
	}
}

// TestRecheckTokensEndsSessions: an agent whose registration token a
// rotation has since ended (after the grace) or that went with its cluster
// loses its tunnel at the next recheck; agents with live tokens keep
// theirs.
func TestRecheckTokensEndsSessions(t *testing.T) {
	f := newFixture(t)
	old := f.addCluster("c-alpha", time.Time{})
	regBeta := f.addCluster("c-beta", time.Time{})
	f.startAgent(old, f.params(agentapi.KindCluster, "", "sa-old"))
	f.waitLive("c-alpha", 1)
	rotated := f.addRegistration("c-alpha", time.Time{}) // the next generation
	f.startAgent(rotated, f.params(agentapi.KindNode, "node-1", ""))
	f.startAgent(regBeta, f.params(agentapi.KindCluster, "", "sa-beta"))
	f.waitLive("c-alpha", 2)
	f.waitLive("c-beta", 1)
	defer func() {
		if t.Failed() {
			t.Log(f.logs.String())
		}
	}()
	rotatedID, _, _ := strings.Cut(rotated, ":")
	if _, err := f.store.SupersedeRegistrations(t.Context(), "c-alpha", rotatedID, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	f.tun.recheckTokens(t.Context()) // in the grace: nothing ends
	if st := f.tun.Status("c-alpha"); st.Sessions != 2 {
		t.Fatalf("in the grace: %d sessions, want 2", st.Sessions)
	}
	f.clock.Add(time.Hour) // the grace is over
	f.tun.recheckTokens(t.Context())
	waitFor(t, "the rotated-out token's session to end", func() bool {
		return f.tun.Status("c-alpha").Sessions == 1 &&
			strings.Count(f.logs.String(), `msg="agent disconnected" cluster=c-alpha kind=cluster`) == 1
	})
	if s, ok := f.tun.Session("c-alpha"); !ok || s.Params.Kind != agentapi.KindNode {
		t.Errorf("the session of the current token was closed too")
	}

	// Tokens gone with their cluster end their sessions the same way.
	if err := f.store.DeleteCluster(t.Context(), "c-beta"); err != nil {
		t.Fatal(err)
	}
	f.tun.recheckTokens(t.Context())
	waitFor(t, "the deleted cluster's session to end", func() bool { return f.tun.Status("c-beta").Sessions == 0 })
}
