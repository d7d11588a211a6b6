package console

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
)

// project is the part of a project the API shows these tests.
type project struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Namespaces []string `json:"namespaces"`
}

// projects lists a cluster's projects through the API, as the admin.
func (f *fixture) projects(ctx context.Context, t *testing.T, clusterID string) []project {
	t.Helper()
	var out struct{ Items []project }
	if err := f.server.Do(ctx, http.MethodGet, "/v3/clusters/"+clusterID+"/projects", f.adminToken, nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// binding is the binding with id as GET /v3/bindings shows it to the
// admin, if it is there.
func (f *fixture) binding(ctx context.Context, t *testing.T, id string) (harness.Binding, bool) {
	t.Helper()
	var out struct{ Items []harness.Binding }
	if err := f.server.Do(ctx, http.MethodGet, "/v3/bindings", f.adminToken, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, b := range out.Items {
		if b.ID == id {
			return b, true
		}
	}
	return harness.Binding{}, false
}

// projectRow is a JavaScript expression for the row of project name in
// the fixture cluster's list of #/access.
func (f *fixture) projectRow(name string) string {
	return `Array.from(document.querySelectorAll('.cluster-projects[data-cluster-id=` + jsString(f.clusterID) + `] tr[data-project-id]')).find(r => r.querySelector('th').textContent.trim() === ` + jsString(name) + `)`
}

// TestProjectBindings: in #/access the admin creates a project of the
// fixture's cluster with two namespaces (one exists downstream), after the
// form has refused bad input next to the field it is about: the page's own
// checks send nothing, the API's refusals (a namespace twice, a namespace
// of another project, a name taken) are shown next to the field too. Then
// the admin grants a user project-member on it (the role list is the
// project scope's), sees it listed and in GET /v3/bindings, and kubectl as
// that user may list pods in the project's namespace and not in default;
// revoking it in the page takes both away; deleting the project in the
// page removes it from the API.
func TestProjectBindings(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := f.adminPage(t)

	// Downstream: the roles a project binding refers to get their rules
	// (the test bed runs no controller-manager to aggregate them), and one
	// of the project's namespaces exists.
	direct, err := kubernetes.NewForConfig(f.cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.AggregateClusterRoles(ctx, direct); err != nil {
		t.Fatal(err)
	}
	projectName := f.uniqueName("team-a")
	webNS, laterNS := projectName+"-web", projectName+"-later"
	if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: webNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The user the role goes to.
	username := f.uniqueName("developer")
	const password = "developer-password-1"
	var user harness.User
	if err := f.server.Do(ctx, http.MethodPost, "/v3/users", f.adminToken, map[string]any{"username": username, "password": password}, &user); err != nil {
		t.Fatal(err)
	}

	f.load(ctx, t, p, "#/access", query("#project-create")+` !== null && `+query("#binding-user option[value="+jsString(user.ID)+"]")+` !== null && `+query("#bindings")+` !== null`)
	choose(ctx, t, p, "#project-cluster", f.clusterID)
	postPath := "/v3/clusters/" + f.clusterID + "/projects"
	name := func(v string) [2]string { return [2]string{"#project-name", v} }
	nss := func(v string) [2]string { return [2]string{"#project-namespaces", v} }
	t.Run("refused before creating", func(t *testing.T) {
		refuse(ctx, t, p, "#project-create", http.MethodPost, postPath, []formCase{
			{name: "no name", values: [][2]string{name(""), nss(webNS)}, field: "project-name", want: "Enter a project name."},
			{name: "a name that is no DNS label", values: [][2]string{name("Team_A")}, field: "project-name", want: "must be a DNS label"},
			{name: "a namespace that is no DNS label", values: [][2]string{name(projectName), nss(webNS + ", Not_A_Namespace")},
				field: "project-namespaces", want: `"Not_A_Namespace" is not a namespace name`},
			{name: "Drover's own namespace", values: [][2]string{nss(downstream.Namespace)}, field: "project-namespaces", want: "cattle-system is Drover's own namespace"},
			// The page does not look for duplicates; the API does and says so.
			{name: "a namespace twice", values: [][2]string{nss(webNS + ", " + webNS)}, field: "project-namespaces", want: "is listed twice", sends: true},
		})
	})
	if got := f.projects(ctx, t, f.clusterID); len(got) != 0 {
		t.Fatalf("the refused forms left projects: %+v", got)
	}

	// Created with two namespaces, one not there yet.
	retype(ctx, t, p, "#project-name", projectName)
	retype(ctx, t, p, "#project-namespaces", webNS+", "+laterNS)
	click(ctx, t, p, "#project-create")
	row := f.projectRow(projectName)
	waitJS(ctx, t, p, "the project in the cluster's list", row+` !== undefined && `+query("#projects-status")+`.textContent.includes(`+jsString("Project "+projectName+" was created.")+`)`)
	projectID := eval[string](ctx, t, p, row+`.dataset.projectId`)
	if shown := eval[string](ctx, t, p, row+`.cells[1].textContent`); !strings.Contains(shown, webNS+", "+laterNS) {
		t.Errorf("the project's row shows namespaces %q, want %s, %s", shown, webNS, laterNS)
	}
	if left := eval[string](ctx, t, p, query("#project-name")+`.value + '|' + `+query("#project-namespaces")+`.value`); left != "|" {
		t.Errorf("the form still holds %q after the project was created", left)
	}
	if diff := cmp.Diff([]project{{ID: projectID, Name: projectName, Namespaces: []string{webNS, laterNS}}}, f.projects(ctx, t, f.clusterID)); diff != "" {
		t.Errorf("the cluster's projects through the API (-want +got):\n%s", diff)
	}
	t.Run("refused after creating", func(t *testing.T) {
		refuse(ctx, t, p, "#project-create", http.MethodPost, postPath, []formCase{
			{name: "a namespace of another project", values: [][2]string{name(projectName + "-b"), nss(webNS)},
				field: "project-namespaces", want: "already belongs to project", sends: true},
			{name: "a name taken", values: [][2]string{name(projectName), nss("")}, field: "project-name", want: "already exists", sends: true},
		})
	})
	if got := len(f.projects(ctx, t, f.clusterID)); got != 1 {
		t.Errorf("the cluster has %d projects after the refused forms, want 1", got)
	}

	// Granted: the project scope offers the project's roles.
	choose(ctx, t, p, "#binding-subject-kind", "user")
	choose(ctx, t, p, "#binding-user", user.ID)
	choose(ctx, t, p, "#binding-cluster", f.clusterID)
	choose(ctx, t, p, "#binding-project", projectID)
	// The project scope offers its roles, least rights first and chosen
	// until someone picks another (never the owner's by default).
	waitJS(ctx, t, p, "#binding-role on a project role", query("#binding-role")+`.value === 'read-only'`)
	roles := eval[[]string](ctx, t, p, `Array.from(`+query("#binding-role")+`.options).map(o => o.value)`)
	if diff := cmp.Diff([]string{"read-only", "project-member", "project-owner"}, roles); diff != "" {
		t.Errorf("#binding-role offers for a project (-want +got):\n%s", diff)
	}
	// A role chosen right after the scope changed stays chosen (an effect
	// once reset it to the scope's first role after the render, which was
	// the owner's).
	choose(ctx, t, p, "#binding-project", "")
	choose(ctx, t, p, "#binding-role", "cluster-member")
	choose(ctx, t, p, "#binding-project", projectID)
	choose(ctx, t, p, "#binding-role", "project-member")
	if got := eval[string](ctx, t, p, query("#binding-role")+`.value`); got != "project-member" {
		t.Fatalf("#binding-role after choosing project-member: %q", got)
	}
	p.ResetRequests()
	click(ctx, t, p, "#binding-create")
	bindingRow := `Array.from(document.querySelectorAll('#bindings tr[data-binding-id]')).find(r => r.querySelector('th').textContent.trim() === ` + jsString(username) + `)`
	waitJS(ctx, t, p, "the binding in #bindings", bindingRow+` !== undefined && `+query("#bindings-status")+`.textContent.includes(`+jsString("Granted project-member to "+username+".")+`)`)
	if n, w := sent(p, http.MethodPost, "/v3/bindings"), writes(p); n != 1 || len(w) != 1 {
		t.Errorf("granting sent %v, want one POST /v3/bindings", w)
	}
	bindingID := eval[string](ctx, t, p, bindingRow+`.dataset.bindingId`)
	cells := eval[[]string](ctx, t, p, `Array.from(`+bindingRow+`.cells).slice(0, 6).map(c => c.textContent.trim())`)
	if diff := cmp.Diff([]string{username, "user", "project-member", "project", f.clusterName, projectName}, cells); diff != "" {
		t.Errorf("the binding's row: subject, kind, role, scope, cluster, project (-want +got):\n%s", diff)
	}
	got, ok := f.binding(ctx, t, bindingID)
	want := harness.Binding{ID: bindingID, Scope: "project", ClusterID: f.clusterID, ProjectID: projectID, Role: "project-member", SubjectKind: "user", Subject: user.ID}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("GET /v3/bindings has %s: %v (-want +got):\n%s", bindingID, ok, diff)
	}

	// What it allows downstream, through Drover, once the controller has
	// applied it: the project's namespace, not another.
	kc := f.userKubeconfig(ctx, t, username, password)
	canList := func(ns string) error {
		out, err := f.kubectl(ctx, kc, "get", "pods", "-n", ns, "-o", "name")
		if err != nil {
			return fmt.Errorf("kubectl get pods -n %s as %s: %v: %s", ns, username, err, out)
		}
		return nil
	}
	refused := func(ns string) error {
		out, err := f.kubectl(ctx, kc, "get", "pods", "-n", ns, "-o", "name")
		if err == nil || !strings.Contains(out, "Forbidden") {
			return fmt.Errorf("kubectl get pods -n %s as %s: %v: %s, want Forbidden", ns, username, err, out)
		}
		return nil
	}
	if err := eventually(ctx, 200*time.Millisecond, func() error { return canList(webNS) }); err != nil {
		t.Fatal(err)
	}
	if err := refused("default"); err != nil {
		t.Error(err)
	}

	// Revoked in the page: gone from the list, the API and downstream.
	revoke := fmt.Sprintf(`#bindings tr[data-binding-id=%q] `, bindingID)
	click(ctx, t, p, revoke+".binding-revoke")
	click(ctx, t, p, revoke+".binding-revoke-confirm")
	waitJS(ctx, t, p, "the binding gone from #bindings", query(strings.TrimSpace(revoke))+` === null && `+query("#bindings-status")+`.textContent.includes(`+jsString("Revoked project-member of "+username+".")+`)`)
	if b, ok := f.binding(ctx, t, bindingID); ok {
		t.Errorf("GET /v3/bindings still has the revoked binding: %+v", b)
	}
	if err := eventually(ctx, 200*time.Millisecond, func() error { return refused(webNS) }); err != nil {
		t.Error(err)
	}

	// Deleted in the page.
	click(ctx, t, p, fmt.Sprintf(`tr[data-project-id=%q] .project-delete`, projectID))
	click(ctx, t, p, fmt.Sprintf(`tr[data-project-id=%q] .project-delete-confirm`, projectID))
	waitJS(ctx, t, p, "the project gone from the list", row+` === undefined && `+query("#projects-status")+`.textContent.includes(`+jsString("Project "+projectName+" was deleted.")+`)`)
	if got := f.projects(ctx, t, f.clusterID); len(got) != 0 {
		t.Errorf("the cluster's projects after deleting it in the page: %+v", got)
	}
}

// userKubeconfig logs user in through the API and writes a kubeconfig for
// the fixture's cluster with their token.
func (f *fixture) userKubeconfig(ctx context.Context, t *testing.T, user, password string) string {
	t.Helper()
	token, err := f.server.Login(ctx, user, password)
	if err != nil {
		t.Fatalf("log in as %s: %v", user, err)
	}
	b, err := f.server.Kubeconfig(ctx, token, []string{f.clusterID}, "1h")
	if err != nil {
		t.Fatalf("a kubeconfig for %s: %v", user, err)
	}
	path := filepath.Join(t.TempDir(), user+".yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
