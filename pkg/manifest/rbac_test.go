package manifest

import (
	"testing"

	"github.com/drover-dev/drover/pkg/downstream"
)

// TestClusterAgentWritesClusterMemberRole: the agent applies
// downstream.ClusterMemberRole, whose read rights it does not hold, so it
// needs escalate on exactly that role; it never binds it (the server's
// controller does).
func TestClusterAgentWritesClusterMemberRole(t *testing.T) {
	rules := rulesFor(t, render(t, validOptions(t)), ClusterAgentServiceAccount)
	tests := []struct {
		q    request
		want bool
	}{
		{request{"escalate", rbacGroup, "clusterroles", "", downstream.ClusterMemberRole}, true},
		{request{"patch", rbacGroup, "clusterroles", "", downstream.ClusterMemberRole}, true},
		{request{"create", rbacGroup, "clusterroles", "", downstream.ClusterMemberRole}, true},
		{request{"bind", rbacGroup, "clusterroles", "", downstream.ClusterMemberRole}, false},
		{request{"escalate", rbacGroup, "clusterroles", "", "view"}, false},
		{request{"bind", rbacGroup, "clusterroles", "", "edit"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.q.String(), func(t *testing.T) {
			if got := can(rules, tc.q); got != tc.want {
				t.Errorf("cluster agent can %s = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}
