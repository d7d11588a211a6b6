package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestScopedTokenIsNotAdmin: an admin's token scoped to one cluster (what a
// kubeconfig carries) cannot use admin-only endpoints.
func TestScopedTokenIsNotAdmin(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`)
	if code != 201 {
		t.Fatalf("create cluster: %d %s", code, body)
	}
	var created struct{ Cluster struct{ ID string } }
	json.Unmarshal([]byte(body), &created)
	code, body = f.do(t, "POST", "/v3/tokens", f.admin, `{"clusterId":"`+created.Cluster.ID+`"}`)
	if code != 201 {
		t.Fatalf("scoped token: %d %s", code, body)
	}
	var tok struct{ Token string }
	json.Unmarshal([]byte(body), &tok)

	for _, tc := range []struct{ name, method, path, body string }{
		{"create user", "POST", "/v3/users", `{"username":"eve","password":"a-long-enough-password"}`},
		{"create cluster", "POST", "/v3/clusters", `{"name":"other"}`},
		{"delete cluster", "DELETE", "/v3/clusters/" + created.Cluster.ID, ""},
		{"list users", "GET", "/v3/users", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.method, tc.path, tok.Token, tc.body)
			if code != 403 || !strings.Contains(body, "is scoped to cluster") {
				t.Errorf("%s %s with a scoped admin token = %d %s; want 403 naming the scope", tc.method, tc.path, code, body)
			}
		})
	}
	// The same admin, unscoped, may.
	if code, body := f.do(t, "GET", "/v3/users", f.admin, ""); code != 200 {
		t.Errorf("unscoped admin list users = %d %s", code, body)
	}
}
