package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestWarningsPerNamespace: the status keeps the newest warnings of each
// namespace, so a quiet namespace's warnings survive a noisy one's (the API
// then shows each caller the newest of those it may read).
func TestWarningsPerNamespace(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	var events []corev1.Event
	add := func(ns string, n int, start time.Duration) {
		for i := range n {
			events = append(events, corev1.Event{
				ObjectMeta:    metav1.ObjectMeta{Namespace: ns},
				LastTimestamp: metav1.NewTime(t0.Add(start - time.Duration(i)*time.Second)),
				Reason:        fmt.Sprintf("%s-%d", ns, i),
			})
		}
	}
	add("noisy", 30, 0)
	add("quiet", 2, -time.Hour)
	got := map[string]int{}
	var order []string
	for _, w := range warnings(events) {
		got[w.Namespace]++
		order = append(order, w.Reason)
	}
	if diff := cmp.Diff(map[string]int{"noisy": maxWarnings, "quiet": 2}, got); diff != "" {
		t.Errorf("warnings per namespace (-want +got):\n%s", diff)
	}
	if order[0] != "noisy-0" || order[len(order)-1] != "quiet-1" {
		t.Errorf("not newest first: %v", order)
	}

	events = nil
	for i := range 40 {
		add(fmt.Sprintf("ns-%d", i), maxWarnings, 0)
	}
	if n := len(warnings(events)); n != maxStoredWarnings {
		t.Errorf("%d warnings kept, want at most %d", n, maxStoredWarnings)
	}
}
