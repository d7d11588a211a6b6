package console

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/test/browser"
)

// TestLoginClustersLogout: the admin logs in through #/login, lands on
// #/clusters, sees the fixture's cluster active (from the live stream),
// and logs out, which ends the session for real.
func TestLoginClustersLogout(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.page(t)

	f.login(ctx, t, p, "admin", f.server.AdminPassword)

	row := fmt.Sprintf(`document.querySelector('#clusters tr[data-cluster-id=%q]')`, f.clusterID)
	if err := p.WaitJS(ctx, row+`?.querySelector('[data-field="state"]')?.textContent.trim() === 'active'`); err != nil {
		t.Fatalf("cluster %s active in #clusters: %v", f.clusterID, err)
	}
	name, err := browser.Eval[string](ctx, p, row+`.querySelector('[data-field="name"]').textContent.trim()`)
	if err != nil || name != f.clusterName {
		t.Errorf("the row's name: got %q (%v), want %q", name, err, f.clusterName)
	}
	href, err := browser.Eval[string](ctx, p, row+`.querySelector('[data-field="name"] a').getAttribute('href')`)
	if want := "#/clusters/" + f.clusterID; err != nil || href != want {
		t.Errorf("the name's link: got %q (%v), want %q", href, err, want)
	}
	if err := p.WaitJS(ctx, `document.querySelector('#whoami')?.textContent.includes('admin')`); err != nil {
		t.Errorf("#whoami: %v", err)
	}
	// The session is a cookie the page's script can never read.
	cookies, err := p.Cookies(ctx, f.server.URL+"/v3/users/me")
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == "drover_session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || !session.Secure || session.SameSite != network.CookieSameSiteStrict || session.Path != "/v3" {
		t.Errorf("drover_session cookie: %+v, want HttpOnly, Secure, SameSite=Strict, Path=/v3", session)
	}

	if err := p.Do(ctx, chromedp.Click(chromedp.CSS("#logout"))); err != nil {
		t.Fatalf("click #logout: %v", err)
	}
	if err := p.WaitJS(ctx, `location.hash.startsWith('#/login') && !!document.querySelector('#login-username')`); err != nil {
		t.Fatalf("after logout: %v", err)
	}
	status, err := browser.Eval[int](ctx, p, `fetch('/v3/users/me', {credentials: 'same-origin'}).then(r => r.status)`)
	if err != nil || status != http.StatusUnauthorized {
		t.Errorf("GET /v3/users/me after logout: %d (%v), want 401", status, err)
	}
}
