package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/test/realcluster"
)

// The workload the demo leaves for kubectl exec, logs, port-forward and cp.
const (
	helloNamespace = "demo"
	helloName      = "hello"
	helloPort      = 8080
	// helloPage is the index page httpd serves.
	helloPage = "hello from a pod, through Drover"
)

// helloObjects are namespace demo and Deployment hello: busybox httpd in
// the foreground, verbose (one line on stderr, so in `kubectl logs`, per
// request), serving an index page its command writes into an emptyDir.
func helloObjects() (*corev1.Namespace, *appsv1.Deployment) {
	labels := map[string]string{"app": helloName}
	one, grace := int32(1), int64(1)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: helloNamespace}}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: helloName, Namespace: helloNamespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name:            helloName,
						Image:           realcluster.BusyboxImage,
						ImagePullPolicy: corev1.PullNever,
						Command: []string{"sh", "-c", fmt.Sprintf("echo '%s' > /www/index.html; exec httpd -f -v -p %d -h /www",
							helloPage, helloPort)},
						Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: helloPort}},
						VolumeMounts: []corev1.VolumeMount{{Name: "www", MountPath: "/www"}},
					}},
					Volumes: []corev1.Volume{{Name: "www", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	return ns, d
}

// createHello creates namespace demo and Deployment hello.
func createHello(ctx context.Context, cs kubernetes.Interface) error {
	ns, d := helloObjects()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", helloNamespace, err)
	}
	if _, err := cs.AppsV1().Deployments(helloNamespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s: %w", helloName, err)
	}
	return nil
}

// waitHelloAvailable waits for the Deployment's Available condition with
// its one pod Running and Ready.
func waitHelloAvailable(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := realcluster.WaitReady(ctx, cs, helloNamespace, "app="+helloName, 1); err != nil {
		return err
	}
	for {
		d, err := cs.AppsV1().Deployments(helloNamespace).Get(ctx, helloName, metav1.GetOptions{})
		if err == nil {
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not Available: %w (last: %v)", helloNamespace, helloName, ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// localPort is the local port the printed port-forward uses: the
// container's own port when it is free on this machine's loopback, else a
// free one.
func localPort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(helloPort)))
	if err != nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return 0, errors.Join(errors.New("no free local port for port-forward"), err)
		}
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
