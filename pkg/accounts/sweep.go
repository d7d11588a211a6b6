package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
)

// AsLifetime is how long an account for kubectl --as is kept after it was
// made; it is made again on the next use after that.
const AsLifetime = 24 * time.Hour

// Keep decides whether an account stays: kind, the Drover user it serves,
// its name and when it was made are given.
type Keep func(ctx context.Context, userID, kind, name string, created time.Time) (bool, error)

// Sweep deletes the accounts of a cluster that keep refuses (with their
// role and binding: their tokens stop working at once) and forgets their
// cached credentials. It returns how many it deleted.
func (m *Manager) Sweep(ctx context.Context, cs kubernetes.Interface, clusterID string, keep Keep) (int, error) {
	list, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: downstream.AccountLabel + "=true," + downstream.InstanceLabel + "=" + m.opts.Instance})
	if err != nil {
		return 0, fmt.Errorf("list impersonation accounts: %w", err)
	}
	n := 0
	var errs []error
	for _, sa := range list.Items {
		kind := sa.Labels[downstream.AccountKindLabel]
		ok, err := keep(ctx, sa.Labels[downstream.AccountUserLabel], kind, sa.Name, sa.CreationTimestamp.Time)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			continue
		}
		m.forgetAccount(clusterID, sa.Name)
		if err := remove(ctx, cs, sa.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func remove(ctx context.Context, cs kubernetes.Interface, name string) error {
	del := metav1.DeleteOptions{}
	ignore := func(err error) error {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	// The binding first: the account stops acting at once.
	if err := ignore(cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, del)); err != nil {
		return fmt.Errorf("delete account binding %s: %w", name, err)
	}
	if err := ignore(cs.RbacV1().ClusterRoles().Delete(ctx, name, del)); err != nil {
		return fmt.Errorf("delete account role %s: %w", name, err)
	}
	if err := ignore(cs.CoreV1().ServiceAccounts(downstream.Namespace).Delete(ctx, name, del)); err != nil {
		return fmt.Errorf("delete account %s: %w", name, err)
	}
	return nil
}
