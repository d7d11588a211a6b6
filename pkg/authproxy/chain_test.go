package authproxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// TestProxyRefusesIncompleteChain: the proxy forwards only a request on
// which every step of the chain ran for that very request. Each case
// leaves one step out (or lets it decide about another cluster, credential
// or identity); each must get 500 and reach no transport.
func TestProxyRefusesIncompleteChain(t *testing.T) {
	ident := authn.Identity{UserID: "u-1", Username: "ada", TokenID: "t-1", StreamOwner: "t-1"}
	info := &request.Info{Kind: request.KindProxy, ClusterID: "c-1", Path: "/api", Verb: "get"}
	sess := &tunnel.Session{ClusterID: "c-1"}
	good := func() (authn.Identity, *request.Info, *access.Decision, *plan) {
		i := *info
		return ident, &i, &access.Decision{ClusterID: "c-1", TokenID: "t-1"},
			&plan{identity: impersonation.Identity{User: "ada"}, session: sess, credential: "cred"}
	}
	tests := map[string]func(id *authn.Identity, in **request.Info, d **access.Decision, p **plan){
		"no identity": func(id *authn.Identity, _ **request.Info, _ **access.Decision, _ **plan) { *id = authn.Identity{} },
		"no owner of its streams": func(id *authn.Identity, _ **request.Info, _ **access.Decision, _ **plan) {
			id.StreamOwner = ""
		},
		"no request info": func(_ *authn.Identity, in **request.Info, _ **access.Decision, _ **plan) { *in = nil },
		"request info of the API": func(_ *authn.Identity, in **request.Info, _ **access.Decision, _ **plan) {
			(*in).Kind = request.KindAPI
		},
		"no access decision": func(_ *authn.Identity, _ **request.Info, d **access.Decision, _ **plan) { *d = nil },
		"access decided for another cluster": func(_ *authn.Identity, _ **request.Info, d **access.Decision, _ **plan) {
			(*d).ClusterID = "c-2"
		},
		"access decided for another credential": func(_ *authn.Identity, _ **request.Info, d **access.Decision, _ **plan) {
			(*d).TokenID = "t-2"
		},
		"no identity plan": func(_ *authn.Identity, _ **request.Info, _ **access.Decision, p **plan) { *p = nil },
		"no session":       func(_ *authn.Identity, _ **request.Info, _ **access.Decision, p **plan) { (*p).session = nil },
		"session of another cluster": func(_ *authn.Identity, _ **request.Info, _ **access.Decision, p **plan) {
			(*p).session = &tunnel.Session{ClusterID: "c-2"}
		},
		"nested identity not approved": func(_ *authn.Identity, _ **request.Info, _ **access.Decision, p **plan) {
			(*p).asked = &impersonation.Request{User: "bob"}
		},
		"no downstream credential": func(_ *authn.Identity, _ **request.Info, _ **access.Decision, p **plan) {
			(*p).credential = ""
		},
		"identity that cannot be sent": func(_ *authn.Identity, _ **request.Info, _ **access.Decision, p **plan) {
			(*p).identity.User = "ada "
		},
	}
	build := func(id authn.Identity, in *request.Info, d *access.Decision, p *plan) *http.Request {
		ctx := context.Background()
		if id.Username != "" {
			ctx = authn.WithIdentity(ctx, id)
		}
		if in != nil {
			ctx = request.NewContext(ctx, in)
		}
		if d != nil {
			ctx = access.NewDecisionContext(ctx, *d)
		}
		if p != nil {
			ctx = context.WithValue(ctx, planKey{}, p)
		}
		return httptest.NewRequestWithContext(ctx, http.MethodGet, "/k8s/clusters/c-1/api", nil)
	}
	t.Run("complete", func(t *testing.T) {
		if _, _, _, err := assemble(build(good())); err != nil {
			t.Fatalf("a complete chain was refused: %v", err)
		}
	})
	p := New(Options{Logger: slog.New(slog.DiscardHandler), Sessions: nil})
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			id, in, d, pl := good()
			breakIt(&id, &in, &d, &pl)
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, build(id, in, d, pl)) // a transport reached would panic on the bare session
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("answer %d %s, want 500", rec.Code, rec.Body.String())
			}
		})
	}
}
