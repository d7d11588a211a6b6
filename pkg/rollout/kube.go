package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
)

// fieldManager is the controller's (package controller).
const fieldManager = "drover-controller"

// requestTimeout bounds each call through the tunnel.
const requestTimeout = 10 * time.Second

// ensureRights grants the controller's ServiceAccount RolloutRules in
// Namespace: a ClusterRole and a RoleBinding in Namespace, written with the
// rights on RBAC the controller holds already.
func ensureRights(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	role := rbacv1apply.ClusterRole(downstream.RolloutRole).WithLabels(downstream.Labels()).
		WithRules(downstream.ApplyRules(downstream.RolloutRules())...)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, opts); err != nil {
		return fmt.Errorf("apply cluster role %s: %w", downstream.RolloutRole, err)
	}
	rb := rbacv1apply.RoleBinding(downstream.RolloutRole, downstream.Namespace).WithLabels(downstream.Labels()).
		WithRoleRef(rbacv1apply.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(downstream.RolloutRole)).
		WithSubjects(rbacv1apply.Subject().WithKind("ServiceAccount").WithName(downstream.ControllerServiceAccount).
			WithNamespace(downstream.Namespace))
	if _, err := cs.RbacV1().RoleBindings(downstream.Namespace).Apply(ctx, rb, opts); err != nil {
		return fmt.Errorf("apply role binding %s/%s: %w", downstream.Namespace, downstream.RolloutRole, err)
	}
	return nil
}

// observe reads the agents' Deployment and DaemonSet.
func observe(ctx context.Context, cs kubernetes.Interface, now time.Time) (observed, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	o := observed{now: now}
	d, err := cs.AppsV1().Deployments(downstream.Namespace).Get(ctx, downstream.ClusterAgentWorkload, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return o, nil
	case err != nil:
		return o, fmt.Errorf("get deployment %s: %w", downstream.ClusterAgentWorkload, err)
	}
	img, ok := agentImage(d.Spec.Template.Spec)
	if !ok {
		return o, nil
	}
	o.annotations, o.resourceVersion = d.Annotations, d.ResourceVersion
	o.deploy = &workload{image: img, done: deploymentDone(d), progress: deploymentProgress(d)}
	ds, err := cs.AppsV1().DaemonSets(downstream.Namespace).Get(ctx, downstream.NodeAgentWorkload, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return o, nil
	case err != nil:
		return o, fmt.Errorf("get daemonset %s: %w", downstream.NodeAgentWorkload, err)
	}
	if img, ok := agentImage(ds.Spec.Template.Spec); ok {
		o.nodes = &workload{image: img, done: daemonSetDone(ds), progress: daemonSetProgress(ds)}
	}
	return o, nil
}

func agentImage(spec corev1.PodSpec) (string, bool) {
	for _, c := range spec.Containers {
		if c.Name == downstream.AgentContainer {
			return c.Image, true
		}
	}
	return "", false
}

func deploymentDone(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want &&
		s.AvailableReplicas >= want && s.UnavailableReplicas == 0
}

func deploymentProgress(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.ObservedGeneration < d.Generation {
		return "its controller has not seen the new spec yet"
	}
	return fmt.Sprintf("%d/%d updated, %d available, %d pods", d.Status.UpdatedReplicas, want,
		d.Status.AvailableReplicas, d.Status.Replicas)
}

func daemonSetDone(ds *appsv1.DaemonSet) bool {
	s := ds.Status
	return s.ObservedGeneration >= ds.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
		s.NumberAvailable == s.DesiredNumberScheduled && s.NumberUnavailable == 0
}

func daemonSetProgress(ds *appsv1.DaemonSet) string {
	s := ds.Status
	if s.ObservedGeneration < ds.Generation {
		return "its controller has not seen the new spec yet"
	}
	return fmt.Sprintf("%d/%d updated, %d available", s.UpdatedNumberScheduled, s.DesiredNumberScheduled, s.NumberAvailable)
}

// patch is a strategic merge patch of the agent container's image and of
// the Deployment's roll-out annotations (nil values delete).
type patch struct {
	Metadata *patchMeta `json:"metadata,omitempty"`
	Spec     *patchSpec `json:"spec,omitempty"`
}

type patchMeta struct {
	// ResourceVersion makes the start of a roll fail rather than record
	// the wrong previous image when someone changed the Deployment since
	// it was read.
	ResourceVersion string             `json:"resourceVersion,omitempty"`
	Annotations     map[string]*string `json:"annotations,omitempty"`
}

type patchSpec struct {
	Template patchTemplate `json:"template"`
}

type patchTemplate struct {
	Spec patchPodSpec `json:"spec"`
}

type patchPodSpec struct {
	Containers []patchContainer `json:"containers"`
}

type patchContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

func imagePatch(image string) *patchSpec {
	return &patchSpec{Template: patchTemplate{Spec: patchPodSpec{Containers: []patchContainer{{Name: downstream.AgentContainer, Image: image}}}}}
}

func ptr(s string) *string { return &s }

func patchDeployment(ctx context.Context, cs kubernetes.Interface, p patch) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := cs.AppsV1().Deployments(downstream.Namespace).Patch(ctx, downstream.ClusterAgentWorkload,
		types.StrategicMergePatchType, b, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("patch deployment %s: %w", downstream.ClusterAgentWorkload, err)
	}
	return nil
}

func patchDaemonSet(ctx context.Context, cs kubernetes.Interface, image string) error {
	b, err := json.Marshal(patch{Spec: imagePatch(image)})
	if err != nil {
		return err
	}
	if _, err := cs.AppsV1().DaemonSets(downstream.Namespace).Patch(ctx, downstream.NodeAgentWorkload,
		types.StrategicMergePatchType, b, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("patch daemonset %s: %w", downstream.NodeAgentWorkload, err)
	}
	return nil
}

// start records the roll on the Deployment and patches its image in the
// same write, then the DaemonSet's. Should the second write fail, the
// roll is in flight all the same and is judged (and rolled back) like any.
func start(ctx context.Context, cs kubernetes.Interface, t Target, o observed) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	prevNode := ""
	if o.nodes != nil {
		prevNode = o.nodes.image
	}
	ann := map[string]*string{
		AnnotationTarget: ptr(t.Image), AnnotationTargetVersion: ptr(t.Version),
		AnnotationStarted:  ptr(o.now.UTC().Format(time.RFC3339Nano)),
		AnnotationPrevious: ptr(o.deploy.image), AnnotationPreviousNode: ptr(prevNode),
	}
	if err := patchDeployment(ctx, cs, patch{Metadata: &patchMeta{ResourceVersion: o.resourceVersion, Annotations: ann},
		Spec: imagePatch(t.Image)}); err != nil {
		return err
	}
	if o.nodes != nil && o.nodes.image != t.Image {
		return patchDaemonSet(ctx, cs, t.Image)
	}
	return nil
}

// inFlightAnnotations are deleted when a roll ends either way.
func inFlightAnnotations() map[string]*string {
	return map[string]*string{AnnotationTarget: nil, AnnotationTargetVersion: nil, AnnotationStarted: nil,
		AnnotationPrevious: nil, AnnotationPreviousNode: nil}
}

// finish clears the roll's annotations, and any earlier failure's.
func finish(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ann := inFlightAnnotations()
	ann[AnnotationFailed], ann[AnnotationFailedReason], ann[AnnotationFailedAt] = nil, nil, nil
	return patchDeployment(ctx, cs, patch{Metadata: &patchMeta{Annotations: ann}})
}

// rollBack puts the previous images back and records the failure. The
// DaemonSet goes first: the Deployment's write also ends the roll.
func rollBack(ctx context.Context, cs kubernetes.Interface, f flight, o observed, reason string, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if o.nodes != nil && f.previousNode != "" && o.nodes.image != f.previousNode {
		if err := patchDaemonSet(ctx, cs, f.previousNode); err != nil {
			return err
		}
	}
	ann := inFlightAnnotations()
	ann[AnnotationFailed], ann[AnnotationFailedReason] = ptr(f.target), ptr(reason)
	ann[AnnotationFailedAt] = ptr(now.UTC().Format(time.RFC3339Nano))
	p := patch{Metadata: &patchMeta{Annotations: ann}}
	if f.previous != "" && o.deploy.image != f.previous {
		p.Spec = imagePatch(f.previous)
	}
	return patchDeployment(ctx, cs, p)
}

// podProblems describes the agent pods that run image and are not ready,
// for a roll-back's reason ("; pod x: ErrImagePull ..."); "" when there
// are none or they cannot be listed.
func podProblems(ctx context.Context, cs kubernetes.Interface, image string) string {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var out []string
	for _, app := range []string{downstream.ClusterAgentWorkload, downstream.NodeAgentWorkload} {
		pods, err := cs.CoreV1().Pods(downstream.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			continue
		}
		for _, p := range pods.Items {
			for _, c := range p.Status.ContainerStatuses {
				if c.Name != downstream.AgentContainer || c.Ready {
					continue
				}
				if img, _ := agentImage(p.Spec); img != image {
					continue
				}
				switch {
				case c.State.Waiting != nil:
					out = append(out, fmt.Sprintf("pod %s: %s %s", p.Name, c.State.Waiting.Reason, c.State.Waiting.Message))
				case c.State.Running != nil:
					out = append(out, fmt.Sprintf("pod %s: running, not ready (its tunnel is not open)", p.Name))
				case c.State.Terminated != nil:
					out = append(out, fmt.Sprintf("pod %s: terminated %s", p.Name, c.State.Terminated.Reason))
				}
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}
