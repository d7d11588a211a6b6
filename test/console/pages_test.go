package console

import (
	"context"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/browser"
)

// checkPage saves the page's screenshot as dir/name.png (the whole page,
// nothing focused) and holds the page as it is to the console's bar:
// axe-core finds no critical or serious violation, Tab reaches every
// interactive element.
func checkPage(ctx context.Context, t *testing.T, p *browser.Page, dir, name string) {
	t.Helper()
	eval[bool](ctx, t, p, `(document.activeElement?.blur(), true)`)
	path, err := p.FullScreenshot(ctx, dir, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	vs, err := p.Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("axe: %s", v)
	}
	missed, err := p.Unreachable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range missed {
		t.Errorf("Tab never reaches %s", e)
	}
}

// TestPages: every page of the console, the login page and, as the admin,
// clusters, import, a cluster's page, tokens, access, drivers and audit,
// passes axe-core (no critical or serious violation) and can be used with
// the keyboard alone; each leaves its screenshot in
// $DROVER_SCREENSHOTS_DIR (else a temporary directory). It runs after the
// tests that import a cluster and create users and tokens (go test runs
// the files in name order), so the screenshots show a console in use.
func TestPages(t *testing.T) {
	f := env(t)
	browser.RequireAxe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := screenshotDir(t)

	t.Run("login", func(t *testing.T) {
		p := f.page(t)
		if err := p.Navigate(ctx, f.url("#/login")); err != nil {
			t.Fatal(err)
		}
		waitJS(ctx, t, p, "the login form", query("#login-username")+` !== null && `+query("#login-provider option")+` !== null`)
		checkPage(ctx, t, p, dir, "login")
	})

	p := f.adminPage(t)
	for _, pg := range []struct{ name, route, ready string }{
		{"clusters", "#/clusters", query("#clusters tr[data-cluster-id]") + ` !== null`},
		{"import", "#/import", query("#import-name") + ` !== null`},
		{"cluster", "#/clusters/" + f.clusterID, query("#cluster-version") + `?.textContent.startsWith('v') && ` + query("#cluster-nodes") + ` !== null`},
		{"tokens", "#/tokens", tokensReady},
		{"access", "#/access", query("#users tbody tr") + ` !== null && ` + query("#bindings") + ` !== null && ` + query("#provider-name") + ` !== null`},
		{"drivers", "#/drivers", query("#drivers") + ` !== null || document.querySelector('main').textContent.includes('No drivers are registered.')`},
		{"audit", "#/audit", query("#audit tr.audit-entry") + ` !== null`},
	} {
		t.Run(pg.name, func(t *testing.T) {
			goTo(ctx, t, p, pg.route, pg.ready)
			checkPage(ctx, t, p, dir, pg.name)
		})
	}
}
