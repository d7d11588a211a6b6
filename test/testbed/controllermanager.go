package testbed

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/test/proc"
)

// controllerManagerGrace bounds a loopback controller-manager's SIGTERM.
const controllerManagerGrace = 10 * time.Second

// defaultServiceAccountPath is the "default" ServiceAccount of the "default"
// namespace, which the controller-manager's serviceaccount controller
// creates: once it is there, the controllers run.
const defaultServiceAccountPath = "/api/v1/namespaces/default/serviceaccounts/default"

// startControllerManager runs kube-controller-manager on the loopback
// cluster (Options.ControllerManager, no nodes) as the admin user, and waits
// until its serviceaccount controller has created the "default"
// ServiceAccount of the "default" namespace. It serves nothing (no secure
// port) and elects no leader.
func (c *Cluster) startControllerManager(ctx context.Context) error {
	if err := checkExecutables([]namedPath{{"kube-controller-manager", c.bins.ControllerManager}}); err != nil {
		return fmt.Errorf("%w; run `make testbed-nodes` to build it", err)
	}
	admin := filepath.Join(c.Dir, "admin.kubeconfig")
	if err := writeKubeconfig(admin, c.URL, c.CAData, c.AdminToken); err != nil {
		return err
	}
	p, err := proc.Start("kube-controller-manager", c.bins.ControllerManager, []string{
		"--kubeconfig=" + admin, "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file=" + c.pki.saKey, "--root-ca-file=" + filepath.Join(c.Dir, "pki", "ca.crt"),
		"--service-cluster-ip-range=" + ServiceClusterIPRange, "--v=1",
	}, c.Dir, filepath.Join(c.Dir, "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.controllerManager = p
	c.mu.Unlock()
	return c.waitFor(ctx, p, func(ctx context.Context) error {
		_, err := c.get(ctx, c.URL+defaultServiceAccountPath, true)
		return err
	})
}
