package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/controller"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
)

type clusterWithStatus struct {
	State  string            `json:"state"`
	Status controller.Status `json:"status"`
}

// waitStatus polls the cluster API until ok accepts the cluster's status.
func waitStatus(ctx context.Context, t *testing.T, srv *harness.Server, bearer, id string, ok func(clusterWithStatus) bool) clusterWithStatus {
	t.Helper()
	var c clusterWithStatus
	for {
		c = clusterWithStatus{}
		err := srv.Do(ctx, http.MethodGet, "/v3/clusters/"+id, bearer, nil, &c)
		if err == nil && ok(c) {
			return c
		}
		select {
		case <-ctx.Done():
			b, _ := json.MarshalIndent(c, "", "  ")
			t.Fatalf("cluster status never matched (last err %v):\n%s", err, b)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestClusterStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct := kubernetes.NewForConfigOrDie(shared.cluster.RESTConfig())

	// A node object (no kubelet runs here, so it is written by hand, as a
	// kubelet would register it) and a warning event.
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-1", Labels: map[string]string{"node-role.kubernetes.io/worker": ""}},
	}
	if _, err := direct.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, _ = direct.CoreV1().Nodes().Get(ctx, "worker-1", metav1.GetOptions{})
	node.Status = corev1.NodeStatus{
		Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")},
		NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.33.13"},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}
	if _, err := direct.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	if _, err := direct.CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "disk-pressure"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "worker-1"},
		Type:           corev1.EventTypeWarning, Reason: "DiskPressure", Message: "disk is 97% full",
		FirstTimestamp: now, LastTimestamp: now, Count: 3,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Wait for a gathering that saw both writes (the node's status and the
	// event), not one that ran in between.
	c := waitStatus(ctx, t, shared.server, shared.adminToken, shared.clusterID, func(c clusterWithStatus) bool {
		return len(c.Status.Nodes) == 1 && c.Status.Nodes[0].KubeletVersion != "" &&
			len(c.Status.Warnings) > 0 && c.Status.Warnings[0].Reason == "DiskPressure"
	})
	t.Logf("status showed the new node and event %.1fs after they were created", time.Since(start).Seconds())
	if c.State != "active" || !c.Status.APIServer.Ready || c.Status.KubernetesVersion != "v1.33.13" {
		t.Errorf("state %q, apiserver %+v, version %q", c.State, c.Status.APIServer, c.Status.KubernetesVersion)
	}
	want := controller.Node{Name: "worker-1", Roles: []string{"worker"}, KubeletVersion: "v1.33.13",
		Capacity: map[string]string{"cpu": "4", "pods": "110"}, Ready: true}
	if got := c.Status.Nodes[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("node = %+v, want %+v", got, want)
	}
	if w := c.Status.Warnings[0]; w.Reason != "DiskPressure" || w.Object != "node/worker-1" || w.Count != 3 {
		t.Errorf("warning = %+v", w)
	}
	if c.Status.Counts.Namespaces < 4 {
		t.Errorf("namespace count %d, want at least 4", c.Status.Counts.Namespaces)
	}
	if len(c.Status.Errors) != 0 {
		t.Errorf("status errors: %v", c.Status.Errors)
	}
}

func TestAdminBindingRestored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	direct := kubernetes.NewForConfigOrDie(shared.cluster.RESTConfig())
	if err := direct.RbacV1().ClusterRoleBindings().Delete(ctx, downstream.AdminBinding, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		b, err := direct.RbacV1().ClusterRoleBindings().Get(ctx, downstream.AdminBinding, metav1.GetOptions{})
		if err == nil {
			if b.RoleRef.Name != "cluster-admin" || len(b.Subjects) != 1 || b.Subjects[0].Name != downstream.AdminGroup {
				t.Fatalf("restored binding is wrong: %+v", b)
			}
			t.Logf("admin binding restored %.2fs after it was deleted", time.Since(start).Seconds())
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the cluster controller did not restore the deleted admin binding")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
