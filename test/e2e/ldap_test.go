package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/idp"
)

// ldapProvider is the name the LDAP tests configure their provider under.
const ldapProvider = "corp"

func ldapGroups(dns ...string) []string {
	out := make([]string, len(dns))
	for i, dn := range dns {
		out[i] = ldapProvider + ":" + dn
	}
	sort.Strings(out)
	return out
}

// wantStatus fails t unless err is an API answer with the given code.
func wantStatus(t *testing.T, what string, err error, code int) {
	t.Helper()
	var apiErr *harness.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != code {
		t.Fatalf("%s: got %v, want HTTP %d", what, err, code)
	}
}

// TestLDAPLogin logs in through the real server against a real slapd: the
// directory's users, nested groups, refusals, an injection-shaped username,
// Drover's own disabling, and group changes picked up by a refresh.
func TestLDAPLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	slapd := idp.StartSlapdT(t)
	srv, admin := shared.server, shared.adminToken
	if err := srv.SaveAuthProvider(ctx, admin, ldapProvider, "ldap", map[string]any{
		"url": slapd.LDAPSURL, "caData": string(slapd.CAData),
		"bindDN": idp.ServiceDN, "bindPassword": idp.ServicePassword,
		"userBaseDN": idp.PeopleDN, "userFilter": idp.UserFilter, "disabledFilter": idp.DisabledFilter,
		"groupBaseDN": idp.GroupsDN, "timeout": "5s",
	}); err != nil {
		t.Fatalf("configure LDAP: %v", err)
	}
	t.Cleanup(func() { srv.DeleteAuthProvider(context.Background(), admin, ldapProvider) })

	var aliceToken string
	t.Run("bind ok with nested groups", func(t *testing.T) {
		var times []time.Duration
		for range 5 {
			start := time.Now()
			tok, err := srv.LoginWith(ctx, ldapProvider, idp.Alice.UID, idp.Alice.Password)
			times = append(times, time.Since(start))
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			aliceToken = tok
		}
		slices.Sort(times)
		t.Logf("LDAP login through the server (ldaps, service bind, search, user bind, nested groups, store, session): median %v, max %v",
			times[len(times)/2], times[len(times)-1])
		me, err := srv.Me(ctx, aliceToken)
		if err != nil {
			t.Fatal(err)
		}
		want := harness.Me{ID: me.ID, Username: ldapProvider + ":alice", TokenID: me.TokenID,
			Groups: ldapGroups(idp.GroupAdmins, idp.GroupDevs, idp.GroupPlatform)}
		if diff := cmp.Diff(want, me); diff != "" {
			t.Errorf("/v3/users/me (-want +got):\n%s", diff)
		}
	})

	t.Run("refusals are one generic 401", func(t *testing.T) {
		for _, tc := range []struct{ name, user, password string }{
			{"wrong password", idp.Alice.UID, "not-alices-password"},
			{"unknown user", "nobody", "whatever-password"},
			{"disabled in LDAP", idp.Carol.UID, idp.Carol.Password},
			{"filter metacharacters", `*)(uid=*))(|(uid=*`, "whatever-password"},
			{"wildcard", "*", idp.Alice.Password},
			{"empty password", idp.Alice.UID, ""},
		} {
			_, err := srv.LoginWith(ctx, ldapProvider, tc.user, tc.password)
			wantStatus(t, tc.name, err, http.StatusUnauthorized)
			if !strings.Contains(err.Error(), "wrong username or password") {
				t.Errorf("%s: answer %v lacks the generic message", tc.name, err)
			}
		}
		// The server keeps working.
		if _, err := srv.LoginWith(ctx, ldapProvider, idp.Alice.UID, idp.Alice.Password); err != nil {
			t.Fatalf("login after the refusals: %v", err)
		}
	})

	t.Run("groups reach kubectl", func(t *testing.T) {
		// Alice is in admins only through devs → platform → admins.
		b, err := srv.CreateBinding(ctx, admin, harness.Binding{Scope: "cluster", ClusterID: shared.clusterID,
			Role: "read-only", SubjectKind: "group", Subject: ldapProvider + ":" + idp.GroupAdmins})
		if err != nil {
			t.Fatalf("bind the nested group: %v", err)
		}
		t.Cleanup(func() { srv.DeleteBinding(context.Background(), admin, b.ID) })
		kc := writeKubeconfig(ctx, t, aliceToken, []string{shared.clusterID})
		out, err := kubectl(ctx, t, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
		if err != nil {
			t.Fatalf("auth whoami: %v", err)
		}
		want := `corp:alice ["` + strings.Join(ldapGroups(idp.GroupAdmins, idp.GroupDevs, idp.GroupPlatform), `","`) + `","system:authenticated"]`
		if out != want {
			t.Errorf("auth whoami = %q, want %q", out, want)
		}
	})

	t.Run("disabled in Drover", func(t *testing.T) {
		me, err := srv.Me(ctx, aliceToken)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SetUserDisabled(ctx, admin, me.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = srv.Me(ctx, aliceToken)
		wantStatus(t, "session of a disabled user", err, http.StatusUnauthorized)
		_, err = srv.LoginWith(ctx, ldapProvider, idp.Alice.UID, idp.Alice.Password)
		wantStatus(t, "login of a disabled user", err, http.StatusUnauthorized)
		if err := srv.SetUserDisabled(ctx, admin, me.ID, false); err != nil {
			t.Fatal(err)
		}
		if aliceToken, err = srv.LoginWith(ctx, ldapProvider, idp.Alice.UID, idp.Alice.Password); err != nil {
			t.Fatalf("login after enabling: %v", err)
		}
	})

	t.Run("group change shows after refresh", func(t *testing.T) {
		tok, err := srv.LoginWith(ctx, ldapProvider, idp.Bob.UID, idp.Bob.Password)
		if err != nil {
			t.Fatal(err)
		}
		me, err := srv.Me(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		before := ldapGroups(idp.GroupLoopA, idp.GroupLoopB, idp.GroupOps)
		if diff := cmp.Diff(before, me.Groups); diff != "" {
			t.Fatalf("bob's groups (-want +got):\n%s", diff)
		}
		conn, err := slapd.Admin()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		add := goldap.NewModifyRequest(idp.GroupDevs, nil)
		add.Add("member", []string{idp.Bob.DN()})
		if err := conn.Modify(add); err != nil {
			t.Fatalf("add bob to devs: %v", err)
		}
		u, result, err := srv.RefreshUser(ctx, admin, me.ID)
		if err != nil {
			t.Fatal(err)
		}
		after := ldapGroups(idp.GroupAdmins, idp.GroupDevs, idp.GroupLoopA, idp.GroupLoopB, idp.GroupOps, idp.GroupPlatform)
		if diff := cmp.Diff(after, u.Groups); diff != "" || result != "refreshed" {
			t.Errorf("refresh answered %q; groups (-want +got):\n%s", result, diff)
		}
		// The session sees the new groups at once.
		if me, err = srv.Me(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(after, me.Groups); diff != "" {
			t.Errorf("groups of bob's session after refresh (-want +got):\n%s", diff)
		}

		// Locked in LDAP: the refresh disables bob and his session ends.
		lock := goldap.NewModifyRequest(idp.Bob.DN(), nil)
		lock.Add("pwdAccountLockedTime", []string{"000001010000Z"})
		if err := conn.Modify(lock); err != nil {
			t.Fatalf("lock bob: %v", err)
		}
		if u, result, err = srv.RefreshUser(ctx, admin, me.ID); err != nil || result != "disabled" || !u.Disabled {
			t.Fatalf("refresh of a locked user: %q disabled=%v err=%v, want \"disabled\"", result, u.Disabled, err)
		}
		_, err = srv.Me(ctx, tok)
		wantStatus(t, "session of a user the refresh disabled", err, http.StatusUnauthorized)
	})
}
