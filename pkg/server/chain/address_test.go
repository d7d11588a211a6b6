package chain_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAddressedByToken: a request whose path lacks /k8s/clusters/{id} but
// whose token is scoped to a cluster gets exactly the answer the same
// request with the prefix gets, for every kind of path a Kubernetes client
// sends; without a token, or with a token scoped to no cluster, Drover's
// own endpoints answer; an unverifiable token there is refused.
func TestAddressedByToken(t *testing.T) {
	s := newServer(t)
	var login struct{ Token string }
	s.must("POST", "/v3/login", "", map[string]string{"username": "root", "password": "a-long-enough-password"}, &login)
	session := login.Token
	var own struct{ Cluster struct{ ID string } }
	s.must("POST", "/v3/clusters", session, map[string]string{"name": "own"}, &own)
	var tok struct{ Token string }
	s.must("POST", "/v3/tokens", session, map[string]string{"clusterId": own.Cluster.ID}, &tok)
	scoped := tok.Token
	id, _, _ := strings.Cut(scoped, ":")
	forged := id + ":" + strings.Repeat("A", len(scoped)-len(id)-1)

	kube := []string{"/", "/healthz", "/healthz?verbose", "/readyz", "/livez", "/version", "/metrics", "/api", "/apis",
		"/apis/apps/v1/namespaces/a/deployments", "/api/v1/namespaces/a/pods?watch=1&resourceVersion=5",
		"/api/v1/namespaces/a%2Fb", "/openapi/v2", "/openapi/v3", "/.well-known/openid-configuration", "//api", "/api/../v3/users/me"}
	for _, p := range kube {
		for _, method := range []string{"GET", "POST", "DELETE"} {
			t.Run(method+" "+p, func(t *testing.T) {
				wantCode, wantBody := s.do(method, "/k8s/clusters/"+own.Cluster.ID+p, scoped, nil)
				code, body := s.do(method, p, scoped, nil)
				if diff := cmp.Diff(wantBody, body); code != wantCode || diff != "" {
					t.Errorf("without the prefix: %d, with it %d; body (-with +without):\n%s", code, wantCode, diff)
				}
				if code, _ := s.do(method, p, forged, nil); code != http.StatusUnauthorized {
					t.Errorf("a forged token without the prefix: %d, want 401", code)
				}
			})
		}
	}

	// Drover's own health: no token, or a credential scoped to no cluster.
	for _, bearer := range []string{"", session} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, body := s.do("GET", p, bearer, nil); code != http.StatusOK || body != "ok" {
				t.Errorf("GET %s (token %v): %d %q, want Drover's own ok", p, bearer != "", code, body)
			}
		}
		if code, _ := s.do("GET", "/version", bearer, nil); code != http.StatusNotFound {
			t.Errorf("GET /version (token %v) without a cluster: %d, want 404", bearer != "", code)
		}
	}
	// A scoped token on Drover's own paths stays Drover's.
	if code, body := s.do("GET", "/v3/users/me", scoped, nil); code != http.StatusOK {
		t.Errorf("GET /v3/users/me with the scoped token: %d %s", code, body)
	}
	if code, body := s.do("GET", "/cacerts", scoped, nil); code != http.StatusOK || body != "CA" {
		t.Errorf("GET /cacerts with the scoped token: %d %q", code, body)
	}
}
