package fleet

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSmallFleet runs the simulator at 20 clusters: every agent connects
// through the server's real accept path, the server's controllers reach
// the stand-in through the tunnels, the agents come back after a restart,
// and the line is what `make bench-scale` promises.
func TestSmallFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a drover-server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 20
	res, err := Run(ctx, Options{
		Clusters: n, Dir: t.TempDir(), Settle: 4 * time.Second, Window: 6 * time.Second, Restart: true,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, res.Report())
	}
	t.Log("\n" + res.Report())
	line := regexp.MustCompile(`^fleet: clusters=(\d+) connected=(\d+) server_rss_mib=[0-9]+\.[0-9] rss_per_tunnel_kib=-?[0-9]+\.[0-9] goroutines_per_tunnel=-?[0-9]+\.[0-9]{2}$`)
	m := line.FindStringSubmatch(res.Line())
	if m == nil {
		t.Fatalf("line %q has not the promised shape", res.Line())
	}
	if diff := cmp.Diff([]string{"20", "20"}, m[1:]); diff != "" {
		t.Errorf("clusters and connected (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(n, res.Returned); diff != "" {
		t.Errorf("agents back after the restart (-want +got):\n%s", diff)
	}
	// Every controller gathered status through its tunnel.
	if res.ControllerRate <= 0 {
		t.Errorf("the stand-in saw no controller request over the window: %q", res.Mix)
	}
	if res.GoroutinesPerTunnel() <= 0 || res.Idle.RSSKiB <= res.Baseline.RSSKiB {
		t.Errorf("no per-tunnel cost measured: %s", res.Line())
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want target
		ok   bool
	}{
		{"/api/v1/nodes", target{version: "v1", resource: "nodes"}, true},
		{"/api/v1/namespaces/cattle-system/secrets/x", target{version: "v1", resource: "secrets", namespace: "cattle-system", name: "x"}, true},
		{"/api/v1/namespaces/cattle-system/serviceaccounts/sa/token",
			target{version: "v1", resource: "serviceaccounts", namespace: "cattle-system", name: "sa", sub: "token"}, true},
		{"/api/v1/namespaces", target{version: "v1", resource: "namespaces"}, true},
		{"/api/v1/namespaces/cattle-system", target{version: "v1", resource: "namespaces", name: "cattle-system"}, true},
		{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
			target{group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings"}, true},
		{"/readyz", target{}, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, ok := parsePath(tc.path)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
