package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/store"
)

// manifestNodeToken fetches the import manifest of a registration token and
// returns the node token its cattle-node-credentials Secret holds.
func (f *fixture) manifestNodeToken(t *testing.T, regToken string) string {
	t.Helper()
	code, body := f.do(t, "GET", "/v3/import/"+regToken+".yaml", "", "")
	if code != 200 {
		t.Fatalf("import manifest: %d %s", code, body)
	}
	for _, doc := range strings.Split(body, "\n---\n") {
		var s corev1.Secret
		if err := yaml.Unmarshal([]byte(doc), &s); err == nil && s.Kind == "Secret" && s.Name == manifest.NodeCredentialsSecret {
			return string(s.Data["token"])
		}
	}
	t.Fatalf("no %s Secret in the manifest", manifest.NodeCredentialsSecret)
	return ""
}

type registrationAnswer struct {
	Token, TokenID, NodeToken, NodeTokenID string
}

// storedFamily is what the test compares of a stored registration token.
type storedFamily struct {
	ID, Kind, Parent string
	Superseded       bool
	ExpiresAt        time.Time
}

func (f *fixture) registrationTokens(t *testing.T, clusterID string) []storedFamily {
	t.Helper()
	rs, err := f.st.ListRegistrationTokens(context.Background(), clusterID)
	if err != nil {
		t.Fatal(err)
	}
	out := []storedFamily{}
	for _, r := range rs {
		out = append(out, storedFamily{r.ID, r.Kind, r.ParentID, r.Superseded, r.ExpiresAt})
	}
	return out
}

// TestRegistrationFamilies: a generation has one node token, minted through
// its cluster token (which it records as its parent, and whose expiry it
// shares), whatever the number of manifest fetches; a rotation ends the
// previous generation, node token included, after the grace, and its
// cluster token serves no manifest any more.
func TestRegistrationFamilies(t *testing.T) {
	for _, ttl := range []time.Duration{0, 2 * time.Hour} {
		t.Run("ttl "+ttl.String(), func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.RegistrationTTL, o.RegistrationGrace = ttl, time.Hour
				o.CASum, o.AgentImage = strings.Repeat("a", 64), "drover-agent:test"
			})
			code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`)
			if code != 201 {
				t.Fatalf("create cluster: %d %s", code, body)
			}
			var created struct {
				Cluster      struct{ ID string }
				Registration registrationAnswer
			}
			json.Unmarshal([]byte(body), &created)
			id, first := created.Cluster.ID, created.Registration
			var expiry time.Time
			if ttl > 0 {
				expiry = f.clk.Now().UTC().Add(ttl).Truncate(time.Millisecond)
			}

			// Every fetch carries the generation's node token: the one
			// the registration showed.
			for i := range 3 {
				if got := f.manifestNodeToken(t, first.Token); got != first.NodeToken {
					t.Errorf("fetch %d: the manifest's node token is not the generation's", i+1)
				}
			}
			want := []storedFamily{
				{ID: first.TokenID, Kind: store.AgentCluster, ExpiresAt: expiry},
				{ID: first.NodeTokenID, Kind: store.AgentNode, Parent: first.TokenID, ExpiresAt: expiry},
			}
			if diff := cmp.Diff(want, f.registrationTokens(t, id)); diff != "" {
				t.Errorf("after three fetches (-want +got):\n%s", diff)
			}

			f.clk.Add(time.Minute)
			code, body = f.do(t, "POST", "/v3/clusters/"+id+"/registration-tokens", f.admin, "")
			if code != 201 {
				t.Fatalf("rotate: %d %s", code, body)
			}
			var rot struct {
				Registration       registrationAnswer
				PreviousValidUntil time.Time
			}
			json.Unmarshal([]byte(body), &rot)
			second := rot.Registration
			graceEnd := f.clk.Now().UTC().Add(time.Hour).Truncate(time.Second)
			if !rot.PreviousValidUntil.Truncate(time.Second).Equal(graceEnd) {
				t.Errorf("previousValidUntil %s, want %s", rot.PreviousValidUntil, graceEnd)
			}
			// The rotated-out token, though still valid for its agents,
			// serves no manifest (and so mints nothing).
			if code, body := f.do(t, "GET", "/v3/import/"+first.Token+".yaml", "", ""); code != 404 ||
				!strings.Contains(body, "unknown, expired or rotated") {
				t.Errorf("import with the rotated-out token: %d %s; want 404", code, body)
			}
			if got := f.manifestNodeToken(t, second.Token); got != second.NodeToken {
				t.Error("the new generation's manifest does not carry its node token")
			}
			var newExpiry time.Time
			if ttl > 0 {
				newExpiry = f.clk.Now().UTC().Add(ttl).Truncate(time.Millisecond)
			}
			graceMS := f.clk.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
			oldEnd := graceMS
			if ttl > 0 && expiry.Before(graceMS) {
				oldEnd = expiry
			}
			want = []storedFamily{
				{ID: first.TokenID, Kind: store.AgentCluster, Superseded: true, ExpiresAt: oldEnd},
				{ID: first.NodeTokenID, Kind: store.AgentNode, Parent: first.TokenID, Superseded: true, ExpiresAt: oldEnd},
				{ID: second.TokenID, Kind: store.AgentCluster, ExpiresAt: newExpiry},
				{ID: second.NodeTokenID, Kind: store.AgentNode, Parent: second.TokenID, ExpiresAt: newExpiry},
			}
			if diff := cmp.Diff(want, f.registrationTokens(t, id)); diff != "" {
				t.Errorf("after the rotation (-want +got):\n%s", diff)
			}
		})
	}
}
