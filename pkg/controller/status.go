package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/rollout"
)

// Status is what Drover shows about a cluster.
type Status struct {
	// GatheredAt is when this status was taken.
	GatheredAt        time.Time `json:"gatheredAt"`
	KubernetesVersion string    `json:"kubernetesVersion,omitempty"`
	APIServer         Health    `json:"apiServer"`
	Nodes             []Node    `json:"nodes"`
	Counts            Counts    `json:"counts"`
	Warnings          []Warning `json:"warnings"`
	// Errors lists what could not be gathered this time.
	Errors []string `json:"errors,omitempty"`
	// Agent is the agents' roll-out state (package rollout); absent when
	// the server runs none.
	Agent *rollout.State `json:"agent,omitempty"`
}

// Health is the apiserver's /readyz answer.
type Health struct {
	Ready   bool   `json:"ready"`
	Message string `json:"message,omitempty"`
}

// Node is one node's summary.
type Node struct {
	Name           string            `json:"name"`
	Roles          []string          `json:"roles"`
	KubeletVersion string            `json:"kubeletVersion"`
	Capacity       map[string]string `json:"capacity"`
	Ready          bool              `json:"ready"`
}

// Counts are object totals.
type Counts struct {
	Namespaces int64 `json:"namespaces"`
	Pods       int64 `json:"pods"`
}

// Warning is a recent Warning event.
type Warning struct {
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Object    string    `json:"object"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message"`
	Count     int32     `json:"count,omitempty"`
}

// The status keeps the maxWarnings newest warning events of each
// namespace, at most maxStoredWarnings in all: the API shows each caller the
// newest of those in the namespaces it may read (pkg/api), so a project's
// warnings are kept even when other namespaces are noisier.
const (
	maxWarnings       = 10
	maxStoredWarnings = 200
)

// gather reads the cluster's status. A part that fails is recorded in
// Errors; a failed /readyz makes the apiserver unhealthy.
func gather(ctx context.Context, cs kubernetes.Interface, now time.Time) Status {
	st := Status{GatheredAt: now.UTC(), Nodes: []Node{}, Warnings: []Warning{}}
	fail := func(what string, err error) { st.Errors = append(st.Errors, fmt.Sprintf("%s: %v", what, err)) }

	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		st.APIServer = Health{Ready: false, Message: shorten(err.Error())}
		// Nothing else will answer either.
		return st
	}
	st.APIServer = Health{Ready: true, Message: strings.TrimSpace(string(body))}
	if v, err := cs.Discovery().ServerVersion(); err != nil {
		fail("version", err)
	} else {
		st.KubernetesVersion = v.GitVersion
	}
	if nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		fail("nodes", err)
	} else {
		for _, n := range nodes.Items {
			st.Nodes = append(st.Nodes, summarize(n))
		}
	}
	if n, err := count(ctx, func(o metav1.ListOptions) (runtime.Object, error) {
		return cs.CoreV1().Namespaces().List(ctx, o)
	}); err != nil {
		fail("namespaces", err)
	} else {
		st.Counts.Namespaces = n
	}
	if n, err := count(ctx, func(o metav1.ListOptions) (runtime.Object, error) {
		return cs.CoreV1().Pods("").List(ctx, o)
	}); err != nil {
		fail("pods", err)
	} else {
		st.Counts.Pods = n
	}
	if events, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "type=Warning", Limit: 500}); err != nil {
		fail("events", err)
	} else {
		st.Warnings = warnings(events.Items)
	}
	return st
}

// count asks for one item and reads the total from the list metadata, so
// counting a big cluster costs one small request.
func count(ctx context.Context, list func(metav1.ListOptions) (runtime.Object, error)) (int64, error) {
	obj, err := list(metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	l, err := meta.ListAccessor(obj)
	if err != nil {
		return 0, err
	}
	n := int64(meta.LenList(obj))
	if rem := l.GetRemainingItemCount(); rem != nil {
		n += *rem
	}
	return n, nil
}

func summarize(n corev1.Node) Node {
	out := Node{Name: n.Name, KubeletVersion: n.Status.NodeInfo.KubeletVersion, Capacity: map[string]string{}, Roles: []string{}}
	for k := range n.Labels {
		if role, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && role != "" {
			out.Roles = append(out.Roles, role)
		}
	}
	sort.Strings(out.Roles)
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
		if q, ok := n.Status.Capacity[r]; ok {
			out.Capacity[string(r)] = q.String()
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return out
}

func warnings(events []corev1.Event) []Warning {
	out := make([]Warning, 0, len(events))
	for _, e := range events {
		t := e.LastTimestamp.Time
		if t.IsZero() {
			t = e.EventTime.Time
		}
		if t.IsZero() {
			t = e.CreationTimestamp.Time
		}
		out = append(out, Warning{
			Time: t.UTC(), Namespace: e.Namespace, Reason: e.Reason, Message: shorten(e.Message), Count: e.Count,
			Object: strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	kept, perNamespace := out[:0], map[string]int{}
	for _, w := range out {
		if perNamespace[w.Namespace] < maxWarnings && len(kept) < maxStoredWarnings {
			perNamespace[w.Namespace]++
			kept = append(kept, w)
		}
	}
	return kept
}

func shorten(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
