package api

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// closingTunnel records which clusters' tunnels were closed.
type closingTunnel struct {
	mu     sync.Mutex
	closed []string
}

func (*closingTunnel) Status(string) tunnel.Status { return tunnel.Status{} }
func (c *closingTunnel) CloseCluster(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = append(c.closed, id)
	return 1
}

// forgettingCache records which clusters' cached credentials were dropped.
type forgettingCache struct {
	mu        sync.Mutex
	forgotten []string
}

func (c *forgettingCache) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgotten = append(c.forgotten, id)
}

// countingListener counts access changes and drops nothing, so that what
// the deletion itself invalidates shows.
type countingListener struct{ n atomic.Int64 }

func (c *countingListener) AccessChanged() { c.n.Add(1) }

// TestDeleteClusterEndsEverything: deleting a cluster deletes the tokens
// scoped to it and drops them from the token cache at once (a token used a
// moment before is refused), closes the cluster's tunnels, drops the
// per-identity credentials cached for it (accounts.Manager.Forget) and
// reports the access change; its registration tokens are gone, so its agents cannot
// come back; tokens not scoped to it keep working.
func TestDeleteClusterEndsEverything(t *testing.T) {
	tun := &closingTunnel{}
	listener := &countingListener{}
	creds := &forgettingCache{}
	f := newFixture(t, func(o *Options) { o.Tunnel, o.Access, o.Credentials = tun, listener, creds })
	var created struct {
		Cluster      struct{ ID string }
		Registration registrationAnswer
	}
	for _, name := range []string{"doomed", "kept"} {
		code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"`+name+`"}`)
		if code != 201 {
			t.Fatalf("create %s: %d %s", name, code, body)
		}
		if name == "doomed" {
			json.Unmarshal([]byte(body), &created)
		}
	}
	id := created.Cluster.ID
	scoped, scopedRec := f.mintAPIToken(t, f.admin, `{"clusterId":"`+id+`"}`)
	unscoped, _ := f.mintAPIToken(t, f.admin, `{}`)
	for _, tok := range []string{scoped, unscoped} {
		if code, body := f.do(t, "GET", "/v3/users/me", tok, ""); code != 200 {
			t.Fatalf("token before the deletion: %d %s", code, body) // and now cached
		}
	}
	before := listener.n.Load()

	if code, body := f.do(t, "DELETE", "/v3/clusters/"+id, f.admin, ""); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := f.do(t, "GET", "/v3/users/me", scoped, ""); code != 401 {
		t.Errorf("the deleted cluster's token answered %d, want 401 at once", code)
	}
	if _, err := f.st.Token(context.Background(), scopedRec.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted cluster's token is still stored: %v", err)
	}
	if code, _ := f.do(t, "GET", "/v3/users/me", unscoped, ""); code != 200 {
		t.Errorf("an unscoped token answered %d after the deletion, want 200", code)
	}
	tun.mu.Lock()
	if diff := cmp.Diff([]string{id}, tun.closed); diff != "" {
		t.Errorf("tunnels closed (-want +got):\n%s", diff)
	}
	tun.mu.Unlock()
	creds.mu.Lock()
	if diff := cmp.Diff([]string{id}, creds.forgotten); diff != "" {
		t.Errorf("clusters whose cached credentials were dropped (-want +got):\n%s", diff)
	}
	creds.mu.Unlock()
	if listener.n.Load() == before {
		t.Error("the deletion was not reported as an access change")
	}
	for _, r := range []string{created.Registration.TokenID, created.Registration.NodeTokenID} {
		if _, err := f.st.RegistrationToken(context.Background(), r); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("registration token %s outlived its cluster: %v", r, err)
		}
	}
}
