package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/idp"
)

// oidcProvider is the name the OIDC tests configure their provider under.
const oidcProvider = "dex"

// TestOIDCLogin runs the code flow through the real server against a real
// Dex (backed by a real slapd): begin, Dex's login form, the callback, a
// session whose groups claim is mapped and reaches kubectl.
func TestOIDCLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, admin := shared.server, shared.adminToken
	slapd := idp.StartSlapdT(t)
	dex := idp.StartDexT(t, idp.DexOptions{LDAP: slapd, RedirectURL: srv.URL + "/v3/login/" + oidcProvider + "/callback"})
	if err := srv.SaveAuthProvider(ctx, admin, oidcProvider, "oidc", map[string]any{
		"issuerURL": dex.Issuer, "clientID": dex.ClientID, "clientSecret": dex.ClientSecret,
		"redirectURL": dex.RedirectURL, "caData": string(dex.CAData), "timeout": "10s",
		"scopes": []string{"openid", "profile", "email", "groups", "offline_access"},
	}); err != nil {
		t.Fatalf("configure OIDC: %v", err)
	}
	t.Cleanup(func() { srv.DeleteAuthProvider(context.Background(), admin, oidcProvider) })

	// The provider's secret is never shown.
	var info struct {
		Config  map[string]any    `json:"config"`
		Secrets map[string]string `json:"secrets"`
	}
	if err := srv.Do(ctx, http.MethodGet, "/v3/auth-providers/"+oidcProvider, admin, nil, &info); err != nil {
		t.Fatal(err)
	}
	if _, ok := info.Config["clientSecret"]; ok || info.Secrets["clientSecret"] != "set" {
		t.Errorf("GET auth provider shows config %v secrets %v: want the client secret absent and marked set", info.Config, info.Secrets)
	}

	start := time.Now()
	begun, err := srv.BeginLogin(ctx, oidcProvider)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	cb, err := dex.Login(ctx, begun.AuthURL, idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
	if err != nil {
		t.Fatalf("dex login: %v", err)
	}
	if cb.Get("state") != begun.State {
		t.Fatalf("callback state %q, want the one begin gave", cb.Get("state"))
	}
	tok, err := srv.FinishLogin(ctx, oidcProvider, cb, begun.Claim)
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	t.Logf("OIDC code flow through the server and Dex (begin, Dex's login form over LDAP, callback): %v", time.Since(start))

	me, err := srv.Me(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	want := harness.Me{ID: me.ID, Username: oidcProvider + ":" + idp.Alice.Mail, TokenID: me.TokenID, Groups: []string{oidcProvider + ":devs"}}
	if diff := cmp.Diff(want, me); diff != "" {
		t.Errorf("/v3/users/me (-want +got):\n%s", diff)
	}

	t.Run("callback refusals", func(t *testing.T) {
		_, err := srv.FinishLogin(ctx, oidcProvider, cb, begun.Claim)
		wantStatus(t, "replayed callback", err, http.StatusUnauthorized)
		forged := url.Values{"code": {cb.Get("code")}, "state": {"not-a-state-we-gave"}}
		_, err = srv.FinishLogin(ctx, oidcProvider, forged, begun.Claim)
		wantStatus(t, "unknown state", err, http.StatusUnauthorized)
		// A state begun at one provider is spent, not honoured, at another path.
		b2, err := srv.BeginLogin(ctx, oidcProvider)
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.FinishLogin(ctx, oidcProvider, url.Values{"state": {b2.State}, "error": {"access_denied"}}, b2.Claim)
		wantStatus(t, "identity provider refused", err, http.StatusUnauthorized)
		_, err = srv.FinishLogin(ctx, oidcProvider, url.Values{"state": {b2.State}, "code": {"x"}}, b2.Claim)
		wantStatus(t, "state reused after a refusal", err, http.StatusUnauthorized)
		// A genuine callback URL (Dex's real code and state) presented
		// without the claim of the client that began it: a leaked or
		// planted URL logs nobody in, and spends nothing, so it cannot
		// spoil the login of the client that began it either.
		b3, err := srv.BeginLogin(ctx, oidcProvider)
		if err != nil {
			t.Fatal(err)
		}
		cb3, err := dex.Login(ctx, b3.AuthURL, idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
		if err != nil {
			t.Fatalf("dex login: %v", err)
		}
		_, err = srv.FinishLogin(ctx, oidcProvider, cb3, "")
		wantStatus(t, "callback without the claim", err, http.StatusUnauthorized)
		if _, err := srv.FinishLogin(ctx, oidcProvider, cb3, b3.Claim); err != nil {
			t.Errorf("the login after a claimless attempt at its callback: %v, want it to complete", err)
		}
		_, err = srv.FinishLogin(ctx, oidcProvider, cb3, b3.Claim)
		wantStatus(t, "its claim after the state was spent", err, http.StatusUnauthorized)
	})

	t.Run("groups reach kubectl", func(t *testing.T) {
		b, err := srv.CreateBinding(ctx, admin, harness.Binding{Scope: "cluster", ClusterID: shared.clusterID,
			Role: "read-only", SubjectKind: "group", Subject: oidcProvider + ":devs"})
		if err != nil {
			t.Fatalf("bind the group: %v", err)
		}
		t.Cleanup(func() { srv.DeleteBinding(context.Background(), admin, b.ID) })
		kc := writeKubeconfig(ctx, t, tok, []string{shared.clusterID})
		out, err := kubectl(ctx, t, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
		if err != nil {
			t.Fatalf("auth whoami: %v", err)
		}
		if want := `dex:alice@example.org ["dex:devs","system:authenticated"]`; out != want {
			t.Errorf("auth whoami = %q, want %q", out, want)
		}
	})

	t.Run("the drover command, through the browser", func(t *testing.T) { cliBrowserLogin(ctx, t, dex) })

	t.Run("refresh with the refresh token", func(t *testing.T) {
		u, result, err := srv.RefreshUser(ctx, admin, me.ID)
		if err != nil {
			t.Fatal(err)
		}
		if result != "unchanged" || u.Disabled || strings.Join(u.Groups, ",") != oidcProvider+":devs" {
			t.Errorf("refresh: %q %+v, want unchanged with dex:devs", result, u)
		}
		// Twice: Dex rotated the refresh token, and the new one was kept.
		if _, result, err = srv.RefreshUser(ctx, admin, me.ID); err != nil || result != "unchanged" {
			t.Errorf("second refresh: %q %v", result, err)
		}
	})
}
