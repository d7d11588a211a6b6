package console

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/browser"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/idp"
)

// bindGroup gives a provider's group read-only on the fixture's cluster
// (so that its users see it in #/clusters) until t ends.
func (f *fixture) bindGroup(ctx context.Context, t *testing.T, group string) {
	t.Helper()
	b, err := f.server.CreateBinding(ctx, f.adminToken, harness.Binding{Scope: "cluster", ClusterID: f.clusterID,
		Role: "read-only", SubjectKind: "group", Subject: group})
	if err != nil {
		t.Fatalf("bind %s: %v", group, err)
	}
	t.Cleanup(func() { f.server.DeleteBinding(context.Background(), f.adminToken, b.ID) })
}

// seesCluster waits until p, logged in as username, shows the fixture's
// cluster (and only it) in #/clusters.
func (f *fixture) seesCluster(ctx context.Context, t *testing.T, p *browser.Page, username string) {
	t.Helper()
	waitJS(ctx, t, p, "logged in as "+username, `location.href.startsWith(`+jsString(f.server.URL+"/")+`) && location.hash === '#/clusters' && `+
		query("#whoami")+`?.textContent === `+jsString(username))
	waitJS(ctx, t, p, username+"'s #clusters", `Array.from(document.querySelectorAll('#clusters tr[data-cluster-id]')).map(r => r.dataset.clusterId).join(' ') === `+jsString(f.clusterID))
}

// TestLDAPLogin: a directory user logs in through #/login with the LDAP
// provider chosen in #login-provider; a wrong password is said so in
// #login-error; the user's nested group's binding shows them the cluster.
func TestLDAPLogin(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slapd := idp.StartSlapdT(t)
	const provider = "corp"
	if err := f.server.SaveAuthProvider(ctx, f.adminToken, provider, "ldap", map[string]any{
		"url": slapd.LDAPSURL, "caData": string(slapd.CAData),
		"bindDN": idp.ServiceDN, "bindPassword": idp.ServicePassword,
		"userBaseDN": idp.PeopleDN, "userFilter": idp.UserFilter, "disabledFilter": idp.DisabledFilter,
		"groupBaseDN": idp.GroupsDN, "timeout": "5s",
	}); err != nil {
		t.Fatalf("configure LDAP: %v", err)
	}
	t.Cleanup(func() { f.server.DeleteAuthProvider(context.Background(), f.adminToken, provider) })
	// Alice is in devs, itself in platform: the binding is to platform.
	f.bindGroup(ctx, t, provider+":"+idp.GroupPlatform)

	p := f.page(t)
	if err := p.Navigate(ctx, f.url("#/login")); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, p, "the LDAP provider in #login-provider", query(`#login-provider option[value="`+provider+`"]`)+` !== null`)
	choose(ctx, t, p, "#login-provider", provider)
	fill(ctx, t, p, "#login-username", idp.Alice.UID)
	fill(ctx, t, p, "#login-password", "not-alices-password")
	click(ctx, t, p, "#login-submit")
	waitJS(ctx, t, p, "#login-error after a wrong password", query("#login-error")+`?.textContent.includes(`+jsString(provider)+`)`)

	fill(ctx, t, p, "#login-password", idp.Alice.Password)
	click(ctx, t, p, "#login-submit")
	f.seesCluster(ctx, t, p, provider+":"+idp.Alice.UID)
}

// TestOIDCLogin: a person logs in with the OIDC provider's button
// (#login-redirect-<name>), goes through Dex's pages (its connector
// chooser, then the LDAP login form it is backed by) and lands back on
// #/clusters, logged in, the groups claim mapped. Dex has a CA of its own:
// this test runs a browser of its own that trusts it.
func TestOIDCLogin(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const provider = "dex"
	slapd := idp.StartSlapdT(t)
	dex := idp.StartDexT(t, idp.DexOptions{LDAP: slapd, RedirectURL: f.server.URL + "/v3/login/" + provider + "/callback"})
	if err := f.server.SaveAuthProvider(ctx, f.adminToken, provider, "oidc", map[string]any{
		"issuerURL": dex.Issuer, "clientID": dex.ClientID, "clientSecret": dex.ClientSecret,
		"redirectURL": dex.RedirectURL, "caData": string(dex.CAData), "timeout": "10s",
		"scopes": []string{"openid", "profile", "email", "groups"},
	}); err != nil {
		t.Fatalf("configure OIDC: %v", err)
	}
	t.Cleanup(func() { f.server.DeleteAuthProvider(context.Background(), f.adminToken, provider) })
	f.bindGroup(ctx, t, provider+":devs")

	b, err := browser.Start(ctx, browser.Options{
		CAPEM: append(append([]byte{}, f.server.CAPEM...), dex.CAData...),
		Dir:   filepath.Join(t.TempDir(), "browser"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if left := b.Leftovers(); len(left) > 0 {
			t.Errorf("browser processes left: %v", left)
		}
	})
	p := b.PageT(t)
	t.Cleanup(func() { f.failureShot(t, p) })

	if err := p.Navigate(ctx, f.url("#/login")); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, p, "#login-redirect-"+provider)
	// Dex: its chooser (a password database and LDAP), then LDAP's form.
	waitJS(ctx, t, p, "Dex's connector chooser", `location.href.startsWith(`+jsString(dex.Issuer)+`) && `+query(`a[href*="/auth/`+idp.DexLDAPConnector+`"]`)+` !== null`)
	click(ctx, t, p, `a[href*="/auth/`+idp.DexLDAPConnector+`"]`)
	waitJS(ctx, t, p, "Dex's login form", query("input#login")+` !== null && `+query("input#password")+` !== null`)
	fill(ctx, t, p, "input#login", idp.Alice.UID)
	fill(ctx, t, p, "input#password", idp.Alice.Password)
	click(ctx, t, p, "#submit-login")
	f.seesCluster(ctx, t, p, provider+":"+idp.Alice.Mail)
}
