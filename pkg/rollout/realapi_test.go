package rollout

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/test/testbed"
)

// apiCluster is a loopback apiserver (no nodes, no controllers: the test
// plays the workload controllers by writing their status) with what the
// cluster agent applies for the controller, and two clients: the admin's
// and the controller's (impersonated), which is what Step gets.
type apiCluster struct {
	admin, ctrl kubernetes.Interface
}

func startAPICluster(t *testing.T) apiCluster {
	t.Helper()
	if _, err := testbed.FindBinaries(); err != nil {
		t.Skipf("no testbed binaries: %v", err)
	}
	cl := testbed.StartT(t, testbed.Options{Name: "rollout", Logger: slog.New(slog.DiscardHandler)})
	cfg := cl.RESTConfig()
	admin := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
	must(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: meta(downstream.Namespace)}, metav1.CreateOptions{}))
	must(admin.CoreV1().ServiceAccounts(downstream.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(downstream.ControllerServiceAccount)}, metav1.CreateOptions{}))
	// The controller's rights as the agent applies them (package agent),
	// nothing more: the roll-out must grant itself the rest.
	must(admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: meta(downstream.ControllerClusterRole), Rules: downstream.ControllerRules()}, metav1.CreateOptions{}))
	subject := rbacv1.Subject{Kind: "ServiceAccount", Name: downstream.ControllerServiceAccount, Namespace: downstream.Namespace}
	must(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: meta(downstream.ControllerBinding),
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: downstream.ControllerClusterRole}, Subjects: []rbacv1.Subject{subject}}, metav1.CreateOptions{}))
	must(admin.RbacV1().Roles(downstream.Namespace).Create(ctx, &rbacv1.Role{ObjectMeta: meta(downstream.ControllerRole), Rules: downstream.ControllerNamespaceRules()}, metav1.CreateOptions{}))
	must(admin.RbacV1().RoleBindings(downstream.Namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta(downstream.ControllerRole),
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: downstream.ControllerRole}, Subjects: []rbacv1.Subject{subject}}, metav1.CreateOptions{}))
	ctrlCfg := rest.CopyConfig(cfg)
	ctrlCfg.Impersonate = rest.ImpersonationConfig{UserName: downstream.ControllerUser}
	return apiCluster{admin: admin, ctrl: kubernetes.NewForConfigOrDie(ctrlCfg)}
}

func agentPodSpec(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: downstream.AgentContainer, Image: image}}},
	}
}

func (c apiCluster) createWorkloads(t *testing.T, image string) {
	t.Helper()
	ctx := t.Context()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	if _, err := c.admin.AppsV1().Deployments(downstream.Namespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: downstream.ClusterAgentWorkload},
		Spec:       appsv1.DeploymentSpec{Selector: sel, Template: agentPodSpec(image)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.admin.AppsV1().DaemonSets(downstream.Namespace).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: downstream.NodeAgentWorkload},
		Spec:       appsv1.DaemonSetSpec{Selector: sel, Template: agentPodSpec(image)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.settle(t)
}

// settle plays the Deployment and DaemonSet controllers: every pod of
// the current spec runs and is available.
func (c apiCluster) settle(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	d, err := c.admin.AppsV1().Deployments(downstream.Namespace).Get(ctx, downstream.ClusterAgentWorkload, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	if _, err := c.admin.AppsV1().Deployments(downstream.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.admin.AppsV1().DaemonSets(downstream.Namespace).Get(ctx, downstream.NodeAgentWorkload, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
		UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}
	if _, err := c.admin.AppsV1().DaemonSets(downstream.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// seen is what the test checks of the workloads after a step.
type seen struct {
	Image, NodeImage string
	Annotations      map[string]string
}

func (c apiCluster) seen(t *testing.T) seen {
	t.Helper()
	ctx := t.Context()
	d, err := c.admin.AppsV1().Deployments(downstream.Namespace).Get(ctx, downstream.ClusterAgentWorkload, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.admin.AppsV1().DaemonSets(downstream.Namespace).Get(ctx, downstream.NodeAgentWorkload, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := agentImage(d.Spec.Template.Spec)
	nimg, _ := agentImage(ds.Spec.Template.Spec)
	return seen{Image: img, NodeImage: nimg, Annotations: d.Annotations}
}

// TestStepRealAPIServer: on a real apiserver, with only the rights the
// agent gives the controller, a roll grants itself the roll-out's rights,
// patches both workloads, finishes once they settle and the new agent
// reports the version; a roll of an image that never settles is rolled
// back after the timeout, recorded, and not started again.
func TestStepRealAPIServer(t *testing.T) {
	c := startAPICluster(t)
	ctx := t.Context()
	const a, b, bad = "reg.invalid/drover-agent:a", "reg.invalid/drover-agent:b", "reg.invalid/drover-agent:missing"
	c.createWorkloads(t, a)

	// The controller holds none of these rights before the first step.
	if _, err := c.ctrl.AppsV1().Deployments(downstream.Namespace).Get(ctx, downstream.ClusterAgentWorkload, metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the controller reads the agent Deployment before the roll-out grants it: err %v", err)
	}
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	m := metrics.NewServer()
	opts := Options{Target: Target{Image: b, Version: "b"}, Enabled: true, Timeout: time.Minute, Metrics: m, Now: func() time.Time { return now }}
	r := New(opts)
	old := Agent{ClusterID: "c-1", ConnectedAt: now.Add(-time.Hour)} // an agent that reports no version

	st := r.Step(ctx, c.ctrl, old)
	if st.Phase != PhaseRolling {
		t.Fatalf("first step: %+v, want Rolling", st)
	}
	started := now.Format(time.RFC3339Nano)
	if diff := cmp.Diff(seen{Image: b, NodeImage: b, Annotations: map[string]string{AnnotationTarget: b, AnnotationTargetVersion: "b",
		AnnotationStarted: started, AnnotationPrevious: a, AnnotationPreviousNode: a}}, c.seen(t)); diff != "" {
		t.Errorf("after the start (-want +got):\n%s", diff)
	}
	// The grant is pinned: the controller may not patch another workload
	// in the namespace, nor delete the agent's.
	if err := c.ctrl.AppsV1().Deployments(downstream.Namespace).Delete(ctx, downstream.ClusterAgentWorkload, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the controller deletes the agent Deployment: err %v", err)
	}
	if _, err := c.ctrl.AppsV1().Deployments(downstream.Namespace).Get(ctx, "other", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the controller reads another Deployment: err %v", err)
	}

	now = now.Add(10 * time.Second)
	if st := r.Step(ctx, c.ctrl, old); st.Phase != PhaseRolling {
		t.Fatalf("before the workloads settle: %+v, want Rolling", st)
	}
	c.settle(t)
	now = now.Add(10 * time.Second)
	if st := r.Step(ctx, c.ctrl, old); st.Phase != PhaseRolling {
		t.Errorf("settled, but the old agent is still connected: %+v, want Rolling", st)
	}
	newAgent := Agent{ClusterID: "c-1", Version: "b", ConnectedAt: now}
	now = now.Add(time.Second)
	if st := r.Step(ctx, c.ctrl, newAgent); st.Phase != PhaseUpToDate {
		t.Fatalf("the new agent connected: %+v, want UpToDate", st)
	}
	if diff := cmp.Diff(seen{Image: b, NodeImage: b}, c.seen(t)); diff != "" {
		t.Errorf("after the roll (-want +got):\n%s", diff)
	}

	// The next server ships an image that never runs.
	r = New(Options{Target: Target{Image: bad, Version: "c"}, Enabled: true, Timeout: time.Minute, Metrics: m, Now: func() time.Time { return now }})
	if st := r.Step(ctx, c.ctrl, newAgent); st.Phase != PhaseRolling {
		t.Fatalf("start of the bad roll: %+v, want Rolling", st)
	}
	now = now.Add(time.Minute + time.Second)
	st = r.Step(ctx, c.ctrl, newAgent)
	if st.Phase != PhaseRolledBack || st.Image != b || st.NodeImage != b {
		t.Fatalf("past the timeout: %+v, want RolledBack to %s", st, b)
	}
	got := c.seen(t)
	if diff := cmp.Diff(seen{Image: b, NodeImage: b, Annotations: map[string]string{AnnotationFailed: bad,
		AnnotationFailedReason: st.Reason, AnnotationFailedAt: now.Format(time.RFC3339Nano)}}, got); diff != "" {
		t.Errorf("after the roll-back (-want +got):\n%s", diff)
	}
	t.Logf("roll-back reason: %s", st.Reason)
	// Not tried again: the next steps change nothing, even after the
	// idle recheck.
	gen := generation(t, c)
	for range 2 {
		now = now.Add(DefaultRecheck + time.Second)
		if st := r.Step(ctx, c.ctrl, newAgent); st.Phase != PhaseRolledBack {
			t.Errorf("after the roll-back: %+v, want RolledBack", st)
		}
	}
	if g := generation(t, c); g != gen {
		t.Errorf("the Deployment changed after the roll-back (generation %d, was %d)", g, gen)
	}
}

func generation(t *testing.T, c apiCluster) int64 {
	t.Helper()
	d, err := c.admin.AppsV1().Deployments(downstream.Namespace).Get(t.Context(), downstream.ClusterAgentWorkload, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Generation
}
