package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// mintAPIToken mints an API token with bearer and returns its secret and
// record as the API shows it.
func (f *fixture) mintAPIToken(t *testing.T, bearer, body string) (string, tokenResponse) {
	t.Helper()
	code, out := f.do(t, "POST", "/v3/tokens", bearer, body)
	if code != 201 {
		t.Fatalf("mint %s: %d %s", body, code, out)
	}
	var resp tokenResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Token, resp
}

// TestIssueRules: the rules of issuing tokens, through the API.
func TestIssueRules(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxLiveTokens = 6 })
	var cl struct{ Cluster struct{ ID string } }
	if code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`); code != 201 {
		t.Fatalf("%d %s", code, body)
	} else {
		json.Unmarshal([]byte(body), &cl)
	}
	cid := cl.Cluster.ID

	t.Run("only members get a token scoped to a cluster", func(t *testing.T) {
		if code, body := f.do(t, "POST", "/v3/tokens", f.user, `{"clusterId":"`+cid+`"}`); code != 403 || !strings.Contains(body, "not a member") {
			t.Errorf("non-member: %d %s", code, body)
		}
		if code, body := f.do(t, "POST", "/v3/kubeconfig", f.user, `{"clusters":["`+cid+`"]}`); code != 403 {
			t.Errorf("non-member kubeconfig: %d %s", code, body)
		}
		f.mintAPIToken(t, f.admin, `{"clusterId":"`+cid+`"}`) // admins reach every cluster
	})

	t.Run("a token minted with a token records it and never outlives it", func(t *testing.T) {
		parent, prec := f.mintAPIToken(t, f.admin, `{"ttl":"1h"}`)
		_, child := f.mintAPIToken(t, parent, `{"ttl":"40h"}`)
		stored := func(id string) time.Time {
			rec, err := f.st.Token(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			return rec.ExpiresAt
		}
		if c, p := stored(child.ID), stored(prec.ID); !c.Equal(p) {
			t.Errorf("child expires %v, parent %v: the child outlives its parent", c, p)
		}
		_, shorter := f.mintAPIToken(t, parent, `{"ttl":"10m"}`)
		if !shorter.ExpiresAt.Before(prec.ExpiresAt) {
			t.Errorf("a shorter ttl was not kept: %v", shorter.ExpiresAt)
		}
		rec, err := f.st.Token(context.Background(), child.ID)
		if err != nil || rec.ParentID != prec.ID {
			t.Errorf("child's parent %q, %v; want %q", rec.ParentID, err, prec.ID)
		}
		// From a login session: today's rules, no parent.
		_, fromSession := f.mintAPIToken(t, f.admin, `{"ttl":"40h"}`)
		if rec, _ := f.st.Token(context.Background(), fromSession.ID); rec.ParentID != "" ||
			fromSession.ExpiresAt.Sub(f.clk.Now()) < 39*time.Hour {
			t.Errorf("a session's token: parent %q, expires %v", rec.ParentID, fromSession.ExpiresAt)
		}
	})

	t.Run("live tokens are capped per user", func(t *testing.T) {
		codes := []int{}
		for range 8 {
			code, _ := f.do(t, "POST", "/v3/tokens", f.user, `{}`)
			codes = append(codes, code)
		}
		// carol holds her session; 5 more fit under the cap of 6.
		want := []int{201, 201, 201, 201, 201, 409, 409, 409}
		if diff := cmp.Diff(want, codes); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
		f.clk.Add(25 * time.Hour) // the tokens expire (the session too: log in again)
		f.user, f.admin = f.login(t, "carol"), f.login(t, "root")
		if code, body := f.do(t, "POST", "/v3/tokens", f.user, `{}`); code != 201 {
			t.Errorf("after the tokens expired: %d %s", code, body)
		}
	})

	t.Run("a kubeconfig de-duplicates and caps its clusters", func(t *testing.T) {
		before, _ := f.st.ListTokens(context.Background(), f.userID(t, "root"))
		code, body := f.do(t, "POST", "/v3/kubeconfig", f.admin, `{"clusters":["`+cid+`","`+cid+`","`+cid+`"]}`)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		after, _ := f.st.ListTokens(context.Background(), f.userID(t, "root"))
		if n := len(after) - len(before); n != 1 {
			t.Errorf("one cluster named three times minted %d tokens", n)
		}
		// Fetched again in the same session (a credential plugin, a
		// script): the new token replaces the old, which ends at once; the
		// user's live tokens do not grow.
		token := func(kc string) string {
			var cfg struct {
				Users []struct{ User struct{ Token string } }
			}
			if err := yaml.Unmarshal([]byte(kc), &cfg); err != nil || len(cfg.Users) == 0 {
				t.Fatalf("kubeconfig: %v %s", err, kc)
			}
			return cfg.Users[0].User.Token
		}
		first := token(body)
		for range 5 {
			code, body = f.do(t, "POST", "/v3/kubeconfig", f.admin, `{"clusters":["`+cid+`"]}`)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
		}
		again, _ := f.st.ListTokens(context.Background(), f.userID(t, "root"))
		if len(again) != len(after) {
			t.Errorf("five more kubeconfigs in one session: %d live tokens, want %d", len(again), len(after))
		}
		if code, _ := f.do(t, "GET", "/v3/users/me", first, ""); code != 401 {
			t.Errorf("the replaced kubeconfig token still works: %d", code)
		}
		latest := token(body)
		if code, body := f.do(t, "GET", "/v3/users/me", latest, ""); code != 200 {
			t.Errorf("the newest kubeconfig token: %d %s", code, body)
		}
		// Another login session's kubeconfig leaves this session's alone.
		other := f.login(t, "root")
		if code, body := f.do(t, "POST", "/v3/kubeconfig", other, `{"clusters":["`+cid+`"]}`); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		if code, _ := f.do(t, "GET", "/v3/users/me", latest, ""); code != 200 {
			t.Error("another session's kubeconfig replaced this session's")
		}

		var many []string
		for i := range maxKubeconfigClusters + 1 {
			many = append(many, fmt.Sprintf("c-%05d", i))
		}
		b, _ := json.Marshal(map[string]any{"clusters": many})
		if code, body := f.do(t, "POST", "/v3/kubeconfig", f.admin, string(b)); code != 422 || !strings.Contains(body, "at most") {
			t.Errorf("%d clusters: %d %s", len(many), code, body)
		}
	})
}
