package rollout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/metrics"
)

// fakeCluster is a cluster's agent workloads, settled, on image.
func fakeCluster(image string) *fake.Clientset {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: downstream.AgentContainer, Image: image}}}}
	one := int32(1)
	return fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: downstream.ClusterAgentWorkload, Namespace: downstream.Namespace},
			Spec:   appsv1.DeploymentSpec{Replicas: &one, Template: tmpl},
			Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: downstream.NodeAgentWorkload, Namespace: downstream.Namespace},
			Spec:   appsv1.DaemonSetSpec{Template: tmpl},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1}},
	)
}

// TestInFlightBound: with MaxInFlight 1, a second cluster waits while the
// first rolls, and starts once the first is done; a slot whose cluster is
// never stepped again is freed after Timeout and a minute.
func TestInFlightBound(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	m := metrics.NewServer()
	r := New(Options{Target: Target{Image: "x:b", Version: "b"}, Enabled: true, Timeout: time.Minute, Metrics: m,
		Now: func() time.Time { return now }})
	c1, c2, c3 := fakeCluster("x:a"), fakeCluster("x:a"), fakeCluster("x:a")
	a1 := Agent{ClusterID: "c-1", Version: "a", ConnectedAt: now.Add(-time.Hour)}
	a2 := Agent{ClusterID: "c-2", Version: "a", ConnectedAt: now.Add(-time.Hour)}
	a3 := Agent{ClusterID: "c-3", Version: "a", ConnectedAt: now.Add(-time.Hour)}
	ctx := t.Context()
	var got []string
	step := func(cs *fake.Clientset, a Agent) { got = append(got, a.ClusterID+" "+r.Step(ctx, cs, a).Phase) }

	step(c1, a1)
	step(c2, a2)
	// c-1's new agent connects (its workloads' status is as the fake
	// left it: settled).
	now = now.Add(10 * time.Second)
	a1 = Agent{ClusterID: "c-1", Version: "b", ConnectedAt: now}
	step(c1, a1)
	step(c2, a2)
	// c-2 is in flight; c-2's controller stops for good (its cluster
	// went away): c-3 waits until c-2's slot runs out.
	step(c3, a3)
	now = now.Add(time.Minute + 30*time.Second)
	step(c3, a3)
	now = now.Add(time.Minute)
	step(c3, a3)
	want := []string{"c-1 Rolling", "c-2 Waiting", "c-1 UpToDate", "c-2 Rolling", "c-3 Waiting", "c-3 Waiting", "c-3 Rolling"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
}

// TestOff: with roll-out off, Step reports Off and makes no call at all.
func TestOff(t *testing.T) {
	cs := fakeCluster("x:a")
	r := New(Options{Target: Target{Image: "x:b"}, Enabled: false})
	st := r.Step(t.Context(), cs, Agent{ClusterID: "c-1", Version: "a"})
	want := State{Phase: PhaseOff, AgentVersion: "a", Target: "x:b", Reason: "roll-out is off (--agent-rollout=false)"}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := len(cs.Actions()); n != 0 {
		t.Errorf("%d calls downstream with roll-out off: %v", n, cs.Actions())
	}
}

// TestGrantRetried: when the roll-out's rights cannot be written, the
// cluster shows an Error, is not asked again every pass, and the grant is
// tried again at the next look on the same session.
func TestGrantRetried(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	cs := fakeCluster("x:a")
	fail := true
	cs.PrependReactor("patch", "clusterroles", func(k8stesting.Action) (bool, runtime.Object, error) {
		if fail {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, downstream.RolloutRole, nil)
		}
		return false, nil, nil
	})
	r := New(Options{Target: Target{Image: "x:b"}, Enabled: true, Now: func() time.Time { return now }})
	a := Agent{ClusterID: "c-1", ConnectedAt: now.Add(-time.Hour)}
	var got []string
	step := func() { got = append(got, r.Step(t.Context(), cs, a).Phase) }
	step()
	calls := len(cs.Actions())
	now = now.Add(5 * time.Second)
	step() // within Recheck: not asked again
	if n := len(cs.Actions()); n != calls {
		t.Errorf("%d calls within Recheck after an error, want none", n-calls)
	}
	fail = false
	now = now.Add(DefaultRecheck)
	step()
	if diff := cmp.Diff([]string{PhaseError, PhaseError, PhaseRolling}, got); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
}
