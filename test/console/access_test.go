package console

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/browser"
)

// downloadKubeconfig downloads the kubeconfig of cluster id from its page
// in p (#kubeconfig-download) and returns the file's path.
func (f *fixture) downloadKubeconfig(ctx context.Context, t *testing.T, p *browser.Page, id, name string) string {
	t.Helper()
	goTo(ctx, t, p, "#/clusters/"+id, query("#kubeconfig-download")+` !== null`)
	fill(ctx, t, p, "#kubeconfig-ttl", "1h")
	file := name + ".yaml"
	p.ForgetDownload(file)
	click(ctx, t, p, "#kubeconfig-download")
	path, err := p.WaitDownload(ctx, file)
	if err != nil {
		t.Fatalf("%v (%s)", err, pageSays(p))
	}
	waitJS(ctx, t, p, "#kubeconfig-status", query("#kubeconfig-status")+`.textContent.includes(`+jsString("Saved "+file)+`)`)
	return path
}

// TestKubeconfig: the kubeconfig the admin downloads from the cluster's
// page works with the machine's own kubectl.
func TestKubeconfig(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.adminPage(t)

	path := f.downloadKubeconfig(ctx, t, p, f.clusterID, f.clusterName)
	yaml, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.server.URL + "/k8s/clusters/" + f.clusterID; !strings.Contains(string(yaml), want) {
		t.Errorf("the kubeconfig does not reach the cluster through Drover (%s):\n%s", want, yaml)
	}
	out, err := f.kubectl(ctx, path, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/default") || !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("kubectl get namespaces with the downloaded kubeconfig: %v\n%s", err, out)
	}
}

// TestAccess: the admin creates a local user in #/access and grants it
// read-only on the cluster; the user, in a browser context of their own,
// sees the cluster, and kubectl with their downloaded kubeconfig may read
// but not write. Revoking the binding in #/access takes the cluster out of
// the user's list by push, without a reload or a request.
func TestAccess(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := f.adminPage(t)
	username := f.uniqueName("reader")
	const password = "reader-password-1"

	accessReady := query("#users") + ` !== null && ` + query("#bindings") + ` !== null`
	goTo(ctx, t, admin, "#/access", accessReady)
	fill(ctx, t, admin, "#user-username", username)
	fill(ctx, t, admin, "#user-password", password)
	click(ctx, t, admin, "#user-create")
	userRow := `Array.from(document.querySelectorAll('#users tr[data-user-id]')).find(r => r.querySelector('th').textContent.trim() === ` + jsString(username) + `)`
	waitJS(ctx, t, admin, "the new user in #users", userRow+` !== undefined`)
	userID := eval[string](ctx, t, admin, userRow+`.dataset.userId`)

	choose(ctx, t, admin, "#binding-subject-kind", "user")
	choose(ctx, t, admin, "#binding-user", userID)
	choose(ctx, t, admin, "#binding-cluster", f.clusterID)
	choose(ctx, t, admin, "#binding-project", "")
	choose(ctx, t, admin, "#binding-role", "read-only")
	click(ctx, t, admin, "#binding-create")
	bindingRow := `Array.from(document.querySelectorAll('#bindings tr[data-binding-id]')).find(r => r.querySelector('th').textContent.trim() === ` + jsString(username) + `)`
	waitJS(ctx, t, admin, "the binding in #bindings", bindingRow+`?.querySelector('[data-field=role]')?.textContent.trim() === 'read-only'`)
	bindingID := eval[string](ctx, t, admin, bindingRow+`.dataset.bindingId`)

	// The user, in a browser context of their own, sees this one cluster.
	reader := f.page(t)
	f.login(ctx, t, reader, username, password)
	rows := `Array.from(document.querySelectorAll('#clusters tr[data-cluster-id]')).map(r => r.dataset.clusterId).join(' ')`
	waitJS(ctx, t, reader, "the reader's #clusters", rows+` === `+jsString(f.clusterID))
	if who := text(ctx, t, reader, "#whoami"); who != username {
		t.Errorf("#whoami: %q, want %q", who, username)
	}
	if admins := eval[int](ctx, t, reader, `document.querySelectorAll('nav a[href="#/access"], nav a[href="#/import"], nav a[href="#/audit"]').length`); admins != 0 {
		t.Errorf("the reader's navigation shows %d admin pages", admins)
	}

	// Their kubeconfig reads (once the controller has applied the binding
	// downstream) and is refused writes.
	kc := f.downloadKubeconfig(ctx, t, reader, f.clusterID, f.clusterName)
	if err := eventually(ctx, 200*time.Millisecond, func() error {
		out, err := f.kubectl(ctx, kc, "get", "namespaces", "-o", "name")
		if err != nil || !strings.Contains(out, "namespace/default") {
			return fmt.Errorf("kubectl get namespaces as %s: %v: %s", username, err, out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err := f.kubectl(ctx, kc, "create", "namespace", "reader-was-here")
	if err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("kubectl create namespace as a read-only user: %v: %s, want Forbidden", err, out)
	}

	// Revoked in the admin's page: the reader's list loses the cluster by
	// push, in the same document, with no request.
	goTo(ctx, t, reader, "#/clusters", rows+` === `+jsString(f.clusterID))
	eval[bool](ctx, t, reader, `window.__sameDocument = true`)
	reader.ResetRequests()
	revoke := fmt.Sprintf(`#bindings tr[data-binding-id=%q] `, bindingID)
	click(ctx, t, admin, revoke+".binding-revoke")
	click(ctx, t, admin, revoke+".binding-revoke-confirm")
	waitJS(ctx, t, admin, "the binding gone from #bindings", query(strings.TrimSpace(revoke))+` === null`)
	waitJS(ctx, t, reader, "the cluster gone from the reader's list", query("#clusters-empty")+` !== null && `+rows+` === ''`)
	if !eval[bool](ctx, t, reader, `window.__sameDocument === true`) {
		t.Error("the reader's page was reloaded")
	}
	if log := reader.RequestLog(); len(log) > 0 {
		t.Errorf("the reader's page sent %v: the change must come by push", log)
	}
	// And kubectl is refused from now on.
	if err := eventually(ctx, 200*time.Millisecond, func() error {
		out, err := f.kubectl(ctx, kc, "get", "namespaces", "-o", "name")
		if err == nil || !strings.Contains(out, "Forbidden") {
			return errors.New("kubectl get namespaces after the revocation: " + out)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
