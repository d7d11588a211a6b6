package controller

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
)

// removeLegacy deletes what clusters imported by earlier versions still
// hold: the drover-impersonator ServiceAccount, ClusterRole and
// ClusterRoleBinding (that account could impersonate any user or group,
// system:masters included) and the node agents' Role and RoleBinding (which
// let every node mint that account's tokens). It reports whether all of it
// is gone.
func (c *clusterController) removeLegacy(ctx context.Context, cs kubernetes.Interface) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	del := metav1.DeleteOptions{}
	steps := []struct {
		what string
		do   func() error
	}{
		{"cluster role binding " + downstream.LegacyImpersonator, func() error {
			return cs.RbacV1().ClusterRoleBindings().Delete(ctx, downstream.LegacyImpersonator, del)
		}},
		{"cluster role " + downstream.LegacyImpersonator, func() error {
			return cs.RbacV1().ClusterRoles().Delete(ctx, downstream.LegacyImpersonator, del)
		}},
		{"service account " + downstream.LegacyImpersonator, func() error {
			return cs.CoreV1().ServiceAccounts(downstream.Namespace).Delete(ctx, downstream.LegacyImpersonator, del)
		}},
		{"role binding " + downstream.LegacyNodeAgent, func() error {
			return cs.RbacV1().RoleBindings(downstream.Namespace).Delete(ctx, downstream.LegacyNodeAgent, del)
		}},
		{"role " + downstream.LegacyNodeAgent, func() error {
			return cs.RbacV1().Roles(downstream.Namespace).Delete(ctx, downstream.LegacyNodeAgent, del)
		}},
	}
	done := true
	for _, st := range steps {
		switch err := st.do(); {
		case err == nil:
			c.log.Info("deleted an object of an earlier Drover version", "object", st.what)
		case apierrors.IsNotFound(err):
		default:
			done = false
			if ctx.Err() == nil {
				c.failed("legacy", "delete an object of an earlier Drover version", "object", st.what, "err", fmt.Errorf("%w", err))
			}
		}
	}
	return done
}
