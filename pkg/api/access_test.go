package api

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/authn"
)

// accessCounter is the fixture's AccessListener: it counts changes and
// drops cached identities, as the server's listener does.
type accessCounter struct {
	auth    *authn.Authenticator
	checker *access.Checker
	n       atomic.Int64
}

func (c *accessCounter) AccessChanged() {
	c.n.Add(1)
	c.auth.InvalidateAll()
	c.checker.Invalidate()
}

func (f *fixture) userID(t *testing.T, name string) string {
	t.Helper()
	u, _, err := f.st.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// step is one API call and what it must answer; body and path may use
// {name} placeholders filled from vars.
type step struct {
	name, method, path, as, body string
	code                         int
	contains                     string
	// save stores the answer's "id" under this var name.
	save string
	// changes: whether the call must tell the access listener.
	changes bool
}

func TestAccessAPI(t *testing.T) {
	f := newFixture(t)
	tokens := map[string]string{"root": f.admin, "carol": f.user}
	for _, name := range []string{"olga", "pete", "mia"} {
		f.createUser(t, name, false)
		tokens[name] = f.login(t, name)
	}
	vars := map[string]string{"pete": f.userID(t, "pete"), "mia": f.userID(t, "mia")}
	for _, name := range []string{"prod", "dev"} {
		code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"`+name+`"}`)
		if code != 201 {
			t.Fatalf("create cluster: %d %s", code, body)
		}
		var out struct{ Cluster struct{ ID string } }
		json.Unmarshal([]byte(body), &out)
		vars[name] = out.Cluster.ID
	}
	steps := []step{
		{"non-member creates project", "POST", "/v3/clusters/{prod}/projects", "carol", `{"name":"web"}`, 403, "only Drover admins and owners of cluster", "", false},
		{"admin makes olga owner of prod", "POST", "/v3/bindings", "root", `{"scope":"cluster","clusterId":"{prod}","role":"cluster-owner","subjectKind":"user","subject":"olga"}`, 201, `"role": "cluster-owner"`, "olgaOwner", true},
		{"owner creates project", "POST", "/v3/clusters/{prod}/projects", "olga", `{"name":"web","namespaces":["web-a","web-b"]}`, 201, `"web-b"`, "web", true},
		{"owner of prod creates in dev", "POST", "/v3/clusters/{dev}/projects", "olga", `{"name":"web"}`, 403, `owners of cluster \"{dev}\"`, "", false},
		{"bad project name", "POST", "/v3/clusters/{prod}/projects", "root", `{"name":"Web_1"}`, 422, "DNS label", "", false},
		{"bad namespace", "POST", "/v3/clusters/{prod}/projects", "root", `{"name":"x","namespaces":["Web_A"]}`, 422, `namespace \"Web_A\"`, "", false},
		{"namespace listed twice", "POST", "/v3/clusters/{prod}/projects", "root", `{"name":"x","namespaces":["a","a"]}`, 422, "listed twice", "", false},
		{"namespace in another project", "POST", "/v3/clusters/{prod}/projects", "root", `{"name":"x","namespaces":["web-b"]}`, 409, `already belongs to project \"web\"`, "", false},
		{"same namespace in another cluster", "POST", "/v3/clusters/{dev}/projects", "root", `{"name":"web","namespaces":["web-b"]}`, 201, `"web-b"`, "", true},
		{"duplicate project name", "POST", "/v3/clusters/{prod}/projects", "root", `{"name":"web"}`, 409, "already exists", "", false},
		{"Drover's namespace", "POST", "/v3/clusters/{prod}/projects", "root", `{"name":"x","namespaces":["cattle-system"]}`, 422, "cannot be part of a project", "", false},
		{"project in missing cluster", "POST", "/v3/clusters/c-zzzzz/projects", "root", `{"name":"x"}`, 404, `cluster \"c-zzzzz\" not found`, "", false},
		{"owner replaces namespaces", "PUT", "/v3/projects/{web}", "olga", `{"namespaces":["web-a","web-c"]}`, 200, `"web-c"`, "", true},
		{"rename refused", "PUT", "/v3/projects/{web}", "olga", `{"name":"www","namespaces":[]}`, 422, "cannot be renamed", "", false},
		{"namespaces required", "PUT", "/v3/projects/{web}", "olga", `{}`, 422, "namespaces is required", "", false},
		{"missing project", "PUT", "/v3/projects/p-nope", "olga", `{"namespaces":[]}`, 404, `project \"p-nope\" not found`, "", false},
		{"owner grants project-owner by username", "POST", "/v3/bindings", "olga", `{"scope":"project","projectId":"{web}","role":"project-owner","subjectKind":"user","subject":"pete"}`, 201, `"subject": "{pete}"`, "peteOwner", true},
		{"owner grants by user id", "POST", "/v3/bindings", "olga", `{"scope":"project","projectId":"{web}","clusterId":"{prod}","role":"read-only","subjectKind":"user","subject":"{mia}"}`, 201, `"username": "mia"`, "miaRO", true},
		{"owner grants a group", "POST", "/v3/bindings", "olga", `{"scope":"cluster","clusterId":"{prod}","role":"read-only","subjectKind":"group","subject":"ldap:auditors"}`, 201, `"subject": "ldap:auditors"`, "", true},
		{"owner grants global admin", "POST", "/v3/bindings", "olga", `{"scope":"global","role":"admin","subjectKind":"user","subject":"olga"}`, 403, "only Drover admins may grant global roles", "", false},
		{"owner grants in dev", "POST", "/v3/bindings", "olga", `{"scope":"cluster","clusterId":"{dev}","role":"cluster-owner","subjectKind":"user","subject":"olga"}`, 403, `owners of cluster \"{dev}\"`, "", false},
		{"project-owner grants", "POST", "/v3/bindings", "pete", `{"scope":"project","projectId":"{web}","role":"project-member","subjectKind":"user","subject":"carol"}`, 403, "only Drover admins and owners", "", false},
		{"role of another scope", "POST", "/v3/bindings", "olga", `{"scope":"cluster","clusterId":"{prod}","role":"project-owner","subjectKind":"user","subject":"pete"}`, 422, "use one of: cluster-owner, cluster-member, read-only", "", false},
		{"unknown scope", "POST", "/v3/bindings", "root", `{"scope":"galaxy","role":"admin","subjectKind":"user","subject":"pete"}`, 422, "scope \\\"galaxy\\\" must be one of", "", false},
		{"project binding, wrong cluster", "POST", "/v3/bindings", "olga", `{"scope":"project","projectId":"{web}","clusterId":"{dev}","role":"read-only","subjectKind":"user","subject":"pete"}`, 422, "omit clusterId", "", false},
		{"cluster binding without cluster", "POST", "/v3/bindings", "root", `{"scope":"cluster","role":"read-only","subjectKind":"user","subject":"pete"}`, 422, "needs clusterId", "", false},
		{"global binding with cluster", "POST", "/v3/bindings", "root", `{"scope":"global","clusterId":"{prod}","role":"admin","subjectKind":"user","subject":"pete"}`, 422, "takes neither", "", false},
		{"unknown user", "POST", "/v3/bindings", "olga", `{"scope":"cluster","clusterId":"{prod}","role":"read-only","subjectKind":"user","subject":"ghost"}`, 422, `user \"ghost\" does not exist`, "", false},
		{"reserved group", "POST", "/v3/bindings", "olga", `{"scope":"cluster","clusterId":"{prod}","role":"read-only","subjectKind":"group","subject":"system:masters"}`, 422, "reserved by Kubernetes", "", false},
		{"bad subject kind", "POST", "/v3/bindings", "olga", `{"scope":"cluster","clusterId":"{prod}","role":"read-only","subjectKind":"robot","subject":"r2"}`, 422, "subjectKind", "", false},
		{"duplicate binding", "POST", "/v3/bindings", "olga", `{"scope":"project","projectId":"{web}","role":"project-owner","subjectKind":"user","subject":"{pete}"}`, 409, "already exists", "", false},
		{"missing cluster binding", "POST", "/v3/bindings", "root", `{"scope":"cluster","clusterId":"c-zzzzz","role":"read-only","subjectKind":"user","subject":"pete"}`, 404, "not found", "", false},
		{"non-member reads project", "GET", "/v3/projects/{web}", "carol", "", 403, `user \"carol\" is not a member of cluster \"{prod}\"`, "", false},
		{"project member reads project", "GET", "/v3/projects/{web}", "pete", "", 200, `"name": "web"`, "", false},
		{"non-member lists projects", "GET", "/v3/clusters/{prod}/projects", "carol", "", 403, "is not a member", "", false},
		{"member lists projects", "GET", "/v3/clusters/{prod}/projects", "mia", "", 200, `"web-c"`, "", false},
		{"non-member lists bindings of prod", "GET", "/v3/bindings?clusterId={prod}", "carol", "", 403, "is not a member", "", false},
		{"bad scope filter", "GET", "/v3/bindings?scope=x", "carol", "", 422, "must be one of", "", false},
		{"bindings of missing project", "GET", "/v3/bindings?projectId=p-nope", "root", "", 404, "not found", "", false},
		{"project owner reads another's binding", "GET", "/v3/bindings/{olgaOwner}", "pete", "", 403, "neither yours nor in a cluster you own", "", false},
		{"project owner reads own binding", "GET", "/v3/bindings/{peteOwner}", "pete", "", 200, `"role": "project-owner"`, "", false},
		{"owner reads binding in own cluster", "GET", "/v3/bindings/{miaRO}", "olga", "", 200, `"username": "mia"`, "", false},
		{"missing binding", "GET", "/v3/bindings/b-nope", "pete", "", 404, `binding \"b-nope\" not found`, "", false},
		{"project owner deletes project", "DELETE", "/v3/projects/{web}", "pete", "", 403, "only Drover admins and owners", "", false},
		{"project owner deletes own binding", "DELETE", "/v3/bindings/{peteOwner}", "pete", "", 403, "only Drover admins and owners", "", false},
		{"owner removes a binding", "DELETE", "/v3/bindings/{peteOwner}", "olga", "", 204, "", "", true},
		{"removed binding is gone", "GET", "/v3/bindings/{peteOwner}", "olga", "", 404, "not found", "", false},
		{"owner deletes global binding", "DELETE", "/v3/bindings/b-admin-{root}", "olga", "", 403, "only Drover admins may remove global bindings", "", false},
		{"last admin binding", "DELETE", "/v3/bindings/b-admin-{root}", "root", "", 409, "last global admin binding", "", false},
		{"owner deletes project", "DELETE", "/v3/projects/{web}", "olga", "", 204, "", "", true},
		{"deleted project", "GET", "/v3/projects/{web}", "root", "", 404, "not found", "", false},
		{"project's bindings went with it", "GET", "/v3/bindings/{miaRO}", "root", "", 404, "not found", "", false},
	}
	vars["root"] = f.userID(t, "root")
	fill := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := f.access.n.Load()
			code, body := f.do(t, s.method, fill(s.path), tokens[s.as], fill(s.body))
			if code != s.code || !strings.Contains(body, fill(s.contains)) {
				t.Fatalf("%s %s as %s = %d %s; want %d containing %q", s.method, fill(s.path), s.as, code, body, s.code, fill(s.contains))
			}
			if code >= 400 && !strings.Contains(body, `"kind":"Status"`) {
				t.Errorf("error body is not a metav1.Status: %s", body)
			}
			if changed := f.access.n.Load() != before; changed != s.changes {
				t.Errorf("access listener told = %v, want %v", changed, s.changes)
			}
			if s.save != "" {
				var out struct{ ID string }
				json.Unmarshal([]byte(body), &out)
				vars[s.save] = out.ID
			}
		})
	}
}

// TestAccessVisibility: who sees which clusters and bindings.
func TestAccessVisibility(t *testing.T) {
	f := newFixture(t)
	tokens := map[string]string{"root": f.admin, "carol": f.user}
	for _, name := range []string{"olga", "pete"} {
		f.createUser(t, name, false)
		tokens[name] = f.login(t, name)
	}
	ids := map[string]string{}
	for _, name := range []string{"prod", "dev"} {
		_, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"`+name+`"}`)
		var out struct{ Cluster struct{ ID string } }
		json.Unmarshal([]byte(body), &out)
		ids[name] = out.Cluster.ID
	}
	bind := func(body string) {
		if code, out := f.do(t, "POST", "/v3/bindings", f.admin, body); code != 201 {
			t.Fatalf("bind %s: %d %s", body, code, out)
		}
	}
	bind(`{"scope":"cluster","clusterId":"` + ids["prod"] + `","role":"cluster-owner","subjectKind":"user","subject":"olga"}`)
	_, body := f.do(t, "POST", "/v3/clusters/"+ids["dev"]+"/projects", f.admin, `{"name":"app","namespaces":["app"]}`)
	var p struct{ ID string }
	json.Unmarshal([]byte(body), &p)
	bind(`{"scope":"project","projectId":"` + p.ID + `","role":"project-member","subjectKind":"user","subject":"pete"}`)
	bind(`{"scope":"cluster","clusterId":"` + ids["dev"] + `","role":"read-only","subjectKind":"user","subject":"carol"}`)

	tests := []struct {
		as           string
		clusters     []string // names
		bindingRoles []string // roles of the bindings listed
	}{
		{"root", []string{"dev", "prod"}, []string{"admin", "cluster-owner", "project-member", "read-only"}},
		{"olga", []string{"prod"}, []string{"cluster-owner"}},
		{"pete", []string{"dev"}, []string{"project-member"}},
		{"carol", []string{"dev"}, []string{"read-only"}},
	}
	for _, tc := range tests {
		t.Run(tc.as, func(t *testing.T) {
			_, body := f.do(t, "GET", "/v3/clusters", tokens[tc.as], "")
			var cl struct{ Items []struct{ Name string } }
			json.Unmarshal([]byte(body), &cl)
			var names []string
			for _, c := range cl.Items {
				names = append(names, c.Name)
			}
			slices.Sort(names)
			if diff := cmp.Diff(tc.clusters, names); diff != "" {
				t.Errorf("clusters (-want +got):\n%s", diff)
			}
			_, body = f.do(t, "GET", "/v3/bindings", tokens[tc.as], "")
			var bl struct{ Items []struct{ Role string } }
			json.Unmarshal([]byte(body), &bl)
			var roles []string
			for _, b := range bl.Items {
				roles = append(roles, b.Role)
			}
			slices.Sort(roles)
			if diff := cmp.Diff(tc.bindingRoles, roles); diff != "" {
				t.Errorf("bindings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("non-member kubeconfig and cluster", func(t *testing.T) {
		if code, body := f.do(t, "GET", "/v3/clusters/"+ids["prod"], tokens["pete"], ""); code != 403 || !strings.Contains(body, "is not a member") {
			t.Errorf("get prod as pete = %d %s", code, body)
		}
		if code, body := f.do(t, "POST", "/v3/kubeconfig", tokens["pete"], `{"clusters":["`+ids["prod"]+`"]}`); code != 403 || !strings.Contains(body, "is not a member") {
			t.Errorf("kubeconfig prod as pete = %d %s", code, body)
		}
		code, body := f.do(t, "POST", "/v3/kubeconfig", tokens["pete"], `{}`)
		if code != 200 || !strings.Contains(body, "/k8s/clusters/"+ids["dev"]) || strings.Contains(body, ids["prod"]) {
			t.Errorf("kubeconfig as pete = %d, want dev only:\n%s", code, body)
		}
	})
}
