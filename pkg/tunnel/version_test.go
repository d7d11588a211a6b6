package tunnel

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// TestAgentVersion: the version an agent sends apart from its parameters
// is what the cluster's status shows; an agent that sends none (one that
// predates the header) and one whose version is not well formed both
// connect, with no version shown.
func TestAgentVersion(t *testing.T) {
	tests := []struct {
		name    string
		version []string // header values; nil: no header
		want    string
	}{
		{name: "an agent that predates the header", version: nil, want: ""},
		{name: "a stamped agent", version: []string{"v0.3.0-2-gabcdef0"}, want: "v0.3.0-2-gabcdef0"},
		{name: "not well formed: dropped, still admitted", version: []string{"v1 <script>"}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			const id = "c-alpha"
			reg := f.addCluster(id, time.Time{})
			p := f.params(agentapi.KindCluster, "", "sa")
			enc, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"Authorization": {"Bearer " + reg}, agentapi.ParamsHeader: {enc}}
			if tc.version != nil {
				h[agentapi.VersionHeader] = tc.version
			}
			f.startAgentHeaders(p, h)
			f.waitLive(id, 1)
			st := f.tun.Status(id)
			if !st.Connected {
				t.Fatalf("status %+v, want connected", st)
			}
			if diff := cmp.Diff(tc.want, st.AgentVersion); diff != "" {
				t.Errorf("agent version (-want +got):\n%s", diff)
			}
		})
	}
}
