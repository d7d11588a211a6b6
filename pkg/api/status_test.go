package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStatusEventsPerCaller: a cluster's status shows each caller only the
// warning events of the namespaces it reads there: admins and cluster
// owners and read-only users every namespace (the newest 10), a project's
// members its namespaces, a cluster-member none; the rest of the status is
// the same for all.
func TestStatusEventsPerCaller(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`)
	if code != 201 {
		t.Fatalf("create cluster: %d %s", code, body)
	}
	var created struct{ Cluster struct{ ID string } }
	json.Unmarshal([]byte(body), &created)
	id := created.Cluster.ID
	code, body = f.do(t, "POST", "/v3/clusters/"+id+"/projects", f.admin, `{"name":"web","namespaces":["web","web-canary"]}`)
	if code != 201 {
		t.Fatalf("create project: %d %s", code, body)
	}
	var project struct{ ID string }
	json.Unmarshal([]byte(body), &project)

	// Stored as the controller gathers it: newest first.
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	type warning struct {
		Time      time.Time `json:"time"`
		Namespace string    `json:"namespace"`
		Reason    string    `json:"reason"`
	}
	var stored []warning
	for i := range 12 {
		stored = append(stored, warning{t0.Add(-time.Duration(i) * time.Minute), "kube-system", fmt.Sprintf("System%d", i)})
	}
	stored = append(stored, warning{t0.Add(-time.Hour), "web", "WebOld"}, warning{t0.Add(-2 * time.Hour), "web-canary", "Canary"},
		warning{t0.Add(-3 * time.Hour), "db", "Db"})
	status, _ := json.Marshal(map[string]any{"gatheredAt": t0, "kubernetesVersion": "v1.33.13",
		"apiServer": map[string]any{"ready": true}, "warnings": stored})
	if err := f.st.SaveClusterStatus(context.Background(), id, status, t0); err != nil {
		t.Fatal(err)
	}

	bind := func(user, scope, role string) {
		t.Helper()
		b := fmt.Sprintf(`{"scope":%q,"clusterId":%q,"role":%q,"subjectKind":"user","subject":%q}`, scope, id, role, f.userID(t, user))
		if scope == "project" {
			b = fmt.Sprintf(`{"scope":"project","projectId":%q,"role":%q,"subjectKind":"user","subject":%q}`, project.ID, role, f.userID(t, user))
		}
		if code, body := f.do(t, "POST", "/v3/bindings", f.admin, b); code != 201 {
			t.Fatalf("bind %s: %d %s", user, code, body)
		}
	}
	for _, u := range []string{"owner", "viewer", "member", "dev"} {
		f.createUser(t, u, false)
	}
	bind("owner", "cluster", "cluster-owner")
	bind("viewer", "cluster", "read-only")
	bind("member", "cluster", "cluster-member")
	bind("dev", "cluster", "cluster-member")
	bind("dev", "project", "project-member")

	newest := []string{}
	for i := range 10 {
		newest = append(newest, fmt.Sprintf("System%d", i))
	}
	want := map[string][]string{
		"root":   newest,
		"owner":  newest,
		"viewer": newest,
		"member": {},
		"dev":    {"WebOld", "Canary"},
	}
	for user, reasons := range want {
		t.Run(user, func(t *testing.T) {
			bearer := f.login(t, user)
			for _, path := range []string{"/v3/clusters/" + id, "/v3/clusters"} {
				code, body := f.do(t, "GET", path, bearer, "")
				if code != 200 {
					t.Fatalf("GET %s: %d %s", path, code, body)
				}
				var view struct {
					Status struct {
						KubernetesVersion string
						Warnings          []warning
					}
				}
				if path == "/v3/clusters" {
					var list struct{ Items []json.RawMessage }
					json.Unmarshal([]byte(body), &list)
					if len(list.Items) != 1 {
						t.Fatalf("GET %s: %d items", path, len(list.Items))
					}
					body = string(list.Items[0])
				}
				if err := json.Unmarshal([]byte(body), &view); err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, w := range view.Status.Warnings {
					got = append(got, w.Reason)
				}
				if diff := cmp.Diff(reasons, got); diff != "" {
					t.Errorf("GET %s: warnings (-want +got):\n%s", path, diff)
				}
				if view.Status.KubernetesVersion != "v1.33.13" {
					t.Errorf("GET %s: the rest of the status is missing: %s", path, body)
				}
			}
		})
	}
}
