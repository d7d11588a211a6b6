package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAttackClusterCredentials: what a holder of a credential plugin's
// token, or of another of the user's tokens, or another user, can do with
// POST /v3/clusters/{id}/credentials and its tokens (a red-team pass; none
// of these were findings).
func TestAttackClusterCredentials(t *testing.T) {
	f := newFixture(t)
	cluster := func(name string) string {
		t.Helper()
		code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"`+name+`"}`)
		if code != 201 {
			t.Fatalf("%d %s", code, body)
		}
		var cl struct{ Cluster struct{ ID string } }
		json.Unmarshal([]byte(body), &cl)
		return cl.Cluster.ID
	}
	prod, dev := cluster("prod"), cluster("dev")
	for _, name := range []string{"dave", "erin"} {
		f.createUser(t, name, false)
		if code, body := f.do(t, "POST", "/v3/bindings", f.admin,
			`{"scope":"cluster","clusterId":"`+prod+`","role":"cluster-member","subjectKind":"user","subject":"`+name+`"}`); code != 201 {
			t.Fatalf("bind %s: %d %s", name, code, body)
		}
	}
	mint := func(t *testing.T, session, cid string) tokenResponse {
		t.Helper()
		code, out := f.do(t, "POST", "/v3/clusters/"+cid+"/credentials", session, `{}`)
		if code != 201 {
			t.Fatalf("mint: %d %s", code, out)
		}
		var resp tokenResponse
		json.Unmarshal([]byte(out), &resp)
		return resp
	}
	works := func(tok, cid string) bool {
		code, _ := f.do(t, "GET", "/v3/clusters/"+cid, tok, "")
		return code == 200
	}
	stored := func(id string) bool {
		_, err := f.st.Token(context.Background(), id)
		return err == nil
	}

	t.Run("a plugin token mints nothing and reaches one cluster", func(t *testing.T) {
		session := f.login(t, "dave")
		c := mint(t, session, prod)
		code, kc := f.do(t, "POST", "/v3/kubeconfig", session, `{"clusters":["`+prod+`"]}`)
		if code != 200 {
			t.Fatalf("kubeconfig: %d %s", code, kc)
		}
		kcTok := kc[strings.Index(kc, "token: ")+len("token: "):]
		kcTok = strings.TrimSpace(kcTok[:strings.IndexByte(kcTok, '\n')])
		for _, bearer := range []struct{ name, tok string }{{"plugin", c.Token}, {"kubeconfig", kcTok}} {
			var got []int
			for _, req := range []struct{ method, path, body string }{
				{"POST", "/v3/clusters/" + prod + "/credentials", `{}`},
				{"POST", "/v3/clusters/" + prod + "/credentials", `{"authEndpoint":true}`},
				{"POST", "/v3/tokens", `{"clusterId":"` + prod + `"}`},
				{"POST", "/v3/kubeconfig", `{"clusters":["` + prod + `"]}`},
				{"GET", "/v3/clusters/" + dev, ``},
				{"POST", "/v3/users/me/password", `{"currentPassword":"a-long-enough-password","newPassword":"another-long-password"}`},
				{"DELETE", "/v3/tokens/" + c.ID + "x", ``},
				{"POST", "/v3/logout", ``},
			} {
				code, _ := f.do(t, req.method, req.path, bearer.tok, req.body)
				got = append(got, code)
			}
			if diff := cmp.Diff([]int{403, 403, 403, 403, 403, 403, 403, 403}, got); diff != "" {
				t.Errorf("%s token (-want +got):\n%s", bearer.name, diff)
			}
		}
	})

	t.Run("another user ends none of it", func(t *testing.T) {
		daveSession, erinSession := f.login(t, "dave"), f.login(t, "erin")
		c := mint(t, daveSession, prod)
		_, me := f.do(t, "GET", "/v3/users/me", daveSession, "")
		var who struct{ TokenID string }
		json.Unmarshal([]byte(me), &who)
		for _, id := range []string{c.ID, who.TokenID} {
			if code, body := f.do(t, "DELETE", "/v3/tokens/"+id, erinSession, ""); code != 404 {
				t.Errorf("erin deletes dave's %s: %d %s", id, code, body)
			}
		}
		// erin asking again and again replaces only erin's.
		for range 3 {
			mint(t, erinSession, prod)
		}
		if !works(c.Token, prod) || !stored(who.TokenID) {
			t.Error("dave's credential or session ended by erin")
		}
		if works(c.Token, dev) {
			t.Error("a plugin token of prod reaches dev")
		}
	})

	t.Run("every end of the session or its standing ends the credentials", func(t *testing.T) {
		for _, end := range []struct {
			name string
			do   func(t *testing.T, session string)
		}{
			{"password change", func(t *testing.T, _ string) {
				other := f.login(t, "dave")
				if code, body := f.do(t, "POST", "/v3/users/me/password", other,
					`{"currentPassword":"a-long-enough-password","newPassword":"a-long-enough-password2"}`); code != 200 {
					t.Fatalf("%d %s", code, body)
				}
				if code, body := f.do(t, "POST", "/v3/users/me/password", other,
					`{"currentPassword":"a-long-enough-password2","newPassword":"a-long-enough-password"}`); code != 200 {
					t.Fatalf("%d %s", code, body)
				}
			}},
			{"disabled", func(t *testing.T, _ string) {
				id := f.userID(t, "dave")
				if code, body := f.do(t, "PUT", "/v3/users/"+id, f.admin, `{"disabled":true}`); code != 200 {
					t.Fatalf("%d %s", code, body)
				}
				if code, body := f.do(t, "PUT", "/v3/users/"+id, f.admin, `{"disabled":false}`); code != 200 {
					t.Fatalf("%d %s", code, body)
				}
			}},
			{"session expiry", func(t *testing.T, _ string) { f.clk.Add(time.Hour + time.Second) }},
		} {
			session := f.login(t, "dave")
			// The session has 3 minutes left: the credential gets at most
			// those.
			f.clk.Add(time.Hour - 3*time.Minute)
			c := mint(t, session, prod)
			if d := c.ExpiresAt.Sub(f.clk.Now()); d > 3*time.Minute+time.Second {
				t.Errorf("%s: the credential outlives its session by %v", end.name, d-3*time.Minute)
			}
			end.do(t, session)
			if works(c.Token, prod) {
				t.Errorf("%s: the credential still works", end.name)
			}
			f.clk.Add(-(time.Hour - 3*time.Minute))
		}
	})

	t.Run("a deleted cluster or user takes the credentials", func(t *testing.T) {
		f.admin = f.login(t, "root") // the clock moved past the first one
		gone := cluster("gone")
		session := f.login(t, "root")
		c := mint(t, session, gone)
		if code, body := f.do(t, "DELETE", "/v3/clusters/"+gone, f.admin, ""); code != 204 {
			t.Fatalf("%d %s", code, body)
		}
		if stored(c.ID) {
			t.Error("the deleted cluster's credential is still stored")
		}
		f.createUser(t, "fay", true)
		fay := f.login(t, "fay")
		fc := mint(t, fay, prod)
		if code, body := f.do(t, "DELETE", "/v3/users/"+f.userID(t, "fay"), f.admin, ""); code != 204 {
			t.Fatalf("%d %s", code, body)
		}
		if works(fc.Token, prod) || stored(fc.ID) {
			t.Error("a deleted user's credential still works")
		}
	})

	t.Run("many sessions stay under the user's cap", func(t *testing.T) {
		g := newFixture(t, func(o *Options) { o.MaxLiveTokens = 8 })
		code, body := g.do(t, "POST", "/v3/clusters", g.admin, `{"name":"prod"}`)
		if code != 201 {
			t.Fatalf("%d %s", code, body)
		}
		var cl struct{ Cluster struct{ ID string } }
		json.Unmarshal([]byte(body), &cl)
		// Logging in is not capped (the login rate limits bound it); the
		// sessions count against the cap of what they mint.
		sessions := []string{g.admin}
		for range 4 {
			sessions = append(sessions, g.login(t, "root"))
		}
		var refused int
		for _, session := range sessions {
			for range 3 {
				if code, _ := g.do(t, "POST", "/v3/clusters/"+cl.Cluster.ID+"/credentials", session, `{}`); code == 409 {
					refused++
				}
			}
		}
		n, err := g.st.CountLiveTokens(context.Background(), g.userID(t, "root"), g.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n > 8 || refused == 0 {
			t.Errorf("five sessions asking three times each: %d live tokens, %d refusals; want at most 8, some refused", n, refused)
		}
	})
}
