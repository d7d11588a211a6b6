package testbed

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestControllerManager starts a loopback cluster with
// Options.ControllerManager and checks what the controllers do there without
// nodes: a new namespace gets its "default" ServiceAccount and the
// kube-root-ca.crt ConfigMap, a deleted namespace is finalized, and Stop
// leaves no process. A cluster without the option gets neither.
func TestControllerManager(t *testing.T) {
	bins, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		controllerManager bool
		// How long to wait for each change: long where it must come
		// (the machine is shared), short where it must not.
		wait time.Duration
		want namespaceLife
	}{
		{name: "with", controllerManager: true, wait: time.Minute,
			want: namespaceLife{DefaultServiceAccount: true, RootCAConfigMap: true, Finalized: true}},
		{name: "without", controllerManager: false, wait: 3 * time.Second, want: namespaceLife{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			c, err := Start(ctx, Options{Binaries: bins, Name: "cm-" + tt.name, ControllerManager: tt.controllerManager})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Stop() })
			if got := c.controllerManager != nil; got != tt.controllerManager {
				t.Fatalf("controller-manager started: %v, want %v", got, tt.controllerManager)
			}
			got := observeNamespace(ctx, t, c, tt.wait)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("namespace life (-want +got):\n%s", d)
			}
			if err := c.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if procs := processesMentioning(t, c.Dir); len(procs) > 0 {
				t.Errorf("processes left after Stop: %v", procs)
			}
		})
	}
}

// namespaceLife is what the controllers did to a namespace.
type namespaceLife struct {
	DefaultServiceAccount bool // the "default" ServiceAccount appeared
	RootCAConfigMap       bool // kube-root-ca.crt appeared
	Finalized             bool // the namespace was gone after its deletion
}

// observeNamespace creates a namespace, waits up to timeout for its "default"
// ServiceAccount and kube-root-ca.crt, deletes it and waits as long for it
// to be gone.
func observeNamespace(ctx context.Context, t *testing.T, c *Cluster, timeout time.Duration) namespaceLife {
	t.Helper()
	cs := clientset(t, c.RESTConfig())
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "observed-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got namespaceLife
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, saErr := cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		_, cmErr := cs.CoreV1().ConfigMaps(ns.Name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		got.DefaultServiceAccount, got.RootCAConfigMap = saErr == nil, cmErr == nil
		return got.DefaultServiceAccount && got.RootCAConfigMap, nil
	})
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		got.Finalized = apierrors.IsNotFound(err)
		return got.Finalized, nil
	})
	return got
}
