package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// createObjects creates the small ConfigMap to GET and n ConfigMaps of size
// bytes each to LIST, through the direct path. The bulk data is random
// base64: it needs no JSON escaping and gzip saves only about a quarter of
// it, so compression cannot hide the bytes the paths carry.
func createObjects(ctx context.Context, cs *kubernetes.Clientset, n, size int) error {
	for _, ns := range []string{getNamespace, listNamespace} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	small := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: getName, Labels: map[string]string{"app": "drover-bench"}},
		Data: map[string]string{
			"app.properties": "greeting=hello\nrepeat=3\n",
			"mode":           "bench",
		},
	}
	if _, err := cs.CoreV1().ConfigMaps(getNamespace).Create(ctx, small, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create configmap %s: %w", getName, err)
	}

	rawLen := base64.RawStdEncoding.DecodedLen(size) + 3
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range jobs {
				buf := make([]byte, rawLen)
				_, _ = rand.Read(buf) // never fails on Linux
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bulk-%03d", i)},
					Data:       map[string]string{"blob": base64.RawStdEncoding.EncodeToString(buf)[:size]},
				}
				if _, err := cs.CoreV1().ConfigMaps(listNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("create configmap %s: %w", cm.Name, err)
				}
			}
		})
	}
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs // the first error, or nil
}
