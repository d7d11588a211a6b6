package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/store"
)

// fieldManager is the server-side apply manager of the controller's writes.
const fieldManager = "drover-controller"

// rbacSync keeps the ClusterRoleBindings and RoleBindings that Drover's
// bindings call for (access.Desired) in one cluster: it applies what is
// missing or changed and deletes every labelled object whose binding,
// project namespace or role is gone, so removing a binding removes the
// access downstream, not just in Drover's store.
//
// Only objects labelled both downstream.ManagedByLabel and
// downstream.BindingLabel are ever deleted: the agent's own bindings
// (drover-admins, drover-controller) carry the first
// label only.
type rbacSync struct {
	crbs       rbaclisters.ClusterRoleBindingLister
	rbs        rbaclisters.RoleBindingLister
	namespaces corelisters.NamespaceLister
	synced     []cache.InformerSynced
	// nsFactory watches every namespace (the managed factory filters by
	// label); a new namespace may complete a project.
	nsFactory informers.SharedInformerFactory
}

// newRBACSync registers its informers on managed, the factory of
// Drover-labelled objects, and on a factory of its own for namespaces;
// kick is called whenever one of them changes. cs is the client its own
// factory watches with (one without a request timeout).
func newRBACSync(cs kubernetes.Interface, managed informers.SharedInformerFactory, kick func()) *rbacSync {
	handler := cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, _ any) { kick() },
		DeleteFunc: func(any) { kick() },
	}
	crbInf := managed.Rbac().V1().ClusterRoleBindings()
	rbInf := managed.Rbac().V1().RoleBindings()
	rbInf.Informer().AddEventHandler(handler)
	nsFactory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	nsInf := nsFactory.Core().V1().Namespaces()
	nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) { kick() }})
	return &rbacSync{
		crbs: crbInf.Lister(), rbs: rbInf.Lister(), namespaces: nsInf.Lister(), nsFactory: nsFactory,
		synced: []cache.InformerSynced{crbInf.Informer().HasSynced, rbInf.Informer().HasSynced, nsInf.Informer().HasSynced},
	}
}

func (r *rbacSync) start(ctx context.Context) { r.nsFactory.Start(ctx.Done()) }
func (r *rbacSync) shutdown()                 { r.nsFactory.Shutdown() }

func (r *rbacSync) hasSynced() bool {
	for _, s := range r.synced {
		if !s() {
			return false
		}
	}
	return true
}

// desired reads the cluster's bindings, projects and users from the store.
// Disabled and deleted users get nothing downstream.
func (c *clusterController) desiredRBAC(ctx context.Context) (access.DesiredRBAC, error) {
	id := c.session.ClusterID
	bindings, err := c.opts.Store.ListBindings(ctx, store.BindingFilter{ClusterID: id})
	if err != nil {
		return access.DesiredRBAC{}, fmt.Errorf("bindings of cluster %q: %w", id, err)
	}
	projects, err := c.opts.Store.ListProjects(ctx, id)
	if err != nil {
		return access.DesiredRBAC{}, fmt.Errorf("projects of cluster %q: %w", id, err)
	}
	usernames := map[string]string{}
	for _, b := range bindings {
		if b.Kind != store.SubjectUser {
			continue
		}
		if _, done := usernames[b.Subject]; done {
			continue
		}
		u, err := c.opts.Store.UserByID(ctx, b.Subject)
		switch {
		case errors.Is(err, store.ErrNotFound):
			usernames[b.Subject] = ""
		case err != nil:
			return access.DesiredRBAC{}, fmt.Errorf("user %q: %w", b.Subject, err)
		case u.Disabled:
			usernames[b.Subject] = ""
		default:
			usernames[b.Subject] = u.Username
		}
	}
	return access.Desired(access.DesiredInput{ClusterID: id, Bindings: bindings, Projects: projects, Usernames: usernames}), nil
}

// reconcileRBAC makes the cluster's Drover bindings what the store says.
// A store error skips the round: nothing is deleted on a failed read.
func (c *clusterController) reconcileRBAC(ctx context.Context, cs kubernetes.Interface, r *rbacSync) {
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	want, err := c.desiredRBAC(rctx)
	if err != nil {
		if ctx.Err() == nil {
			c.failed("rbac", "reconcile bindings: read the store", "err", err)
		}
		return
	}
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	del := metav1.DeleteOptions{}

	// Delete first: a removed binding must lose its access even when some
	// apply below fails.
	managed := labels.SelectorFromSet(labels.Set{downstream.ManagedByLabel: downstream.ManagedByValue})
	wantCRB := map[string]bool{}
	for _, b := range want.ClusterRoleBindings {
		wantCRB[b.Name] = true
	}
	crbs, _ := r.crbs.List(managed)
	for _, have := range crbs {
		if _, ours := have.Labels[downstream.BindingLabel]; !ours || wantCRB[have.Name] {
			continue
		}
		if err := cs.RbacV1().ClusterRoleBindings().Delete(rctx, have.Name, del); err != nil && !apierrors.IsNotFound(err) {
			c.failed("rbac", "delete cluster role binding", "name", have.Name, "err", err)
			continue
		}
		c.log.Info("deleted cluster role binding", "name", have.Name, "binding", have.Labels[downstream.BindingLabel])
	}
	wantRB := map[string]bool{}
	for _, b := range want.RoleBindings {
		wantRB[b.Namespace+"/"+b.Name] = true
	}
	rbs, _ := r.rbs.List(managed)
	for _, have := range rbs {
		if _, ours := have.Labels[downstream.BindingLabel]; !ours || wantRB[have.Namespace+"/"+have.Name] {
			continue
		}
		if err := cs.RbacV1().RoleBindings(have.Namespace).Delete(rctx, have.Name, del); err != nil && !apierrors.IsNotFound(err) {
			c.failed("rbac", "delete role binding", "namespace", have.Namespace, "name", have.Name, "err", err)
			continue
		}
		c.log.Info("deleted role binding", "namespace", have.Namespace, "name", have.Name, "binding", have.Labels[downstream.BindingLabel])
	}

	for _, b := range want.ClusterRoleBindings {
		have, err := r.crbs.Get(b.Name)
		if err == nil && bindingOK(have.Labels, have.RoleRef, have.Subjects, b.Labels, b.RoleRef, b.Subjects) {
			continue
		}
		// roleRef is immutable: an object pointing elsewhere is replaced.
		if err == nil && have.RoleRef != b.RoleRef {
			if err := cs.RbacV1().ClusterRoleBindings().Delete(rctx, b.Name, del); err != nil && !apierrors.IsNotFound(err) {
				c.failed("rbac", "replace cluster role binding", "name", b.Name, "err", err)
				continue
			}
		}
		apply := rbacv1apply.ClusterRoleBinding(b.Name).WithLabels(b.Labels).
			WithRoleRef(roleRefApply(b.RoleRef)).WithSubjects(subjectsApply(b.Subjects)...)
		if _, err := cs.RbacV1().ClusterRoleBindings().Apply(rctx, apply, opts); err != nil {
			c.failed("rbac", "apply cluster role binding", "name", b.Name, "err", err)
			continue
		}
		c.log.Info("applied cluster role binding", "name", b.Name, "role", b.RoleRef.Name, "binding", b.Labels[downstream.BindingLabel])
	}
	for _, b := range want.RoleBindings {
		if _, err := r.namespaces.Get(b.Namespace); apierrors.IsNotFound(err) {
			// A project may name a namespace before it is created; the
			// namespace informer kicks a round when it appears.
			c.log.Debug("project namespace does not exist yet", "namespace", b.Namespace, "binding", b.Labels[downstream.BindingLabel])
			continue
		}
		have, err := r.rbs.RoleBindings(b.Namespace).Get(b.Name)
		if err == nil && bindingOK(have.Labels, have.RoleRef, have.Subjects, b.Labels, b.RoleRef, b.Subjects) {
			continue
		}
		if err == nil && have.RoleRef != b.RoleRef {
			if err := cs.RbacV1().RoleBindings(b.Namespace).Delete(rctx, b.Name, del); err != nil && !apierrors.IsNotFound(err) {
				c.failed("rbac", "replace role binding", "namespace", b.Namespace, "name", b.Name, "err", err)
				continue
			}
		}
		apply := rbacv1apply.RoleBinding(b.Name, b.Namespace).WithLabels(b.Labels).
			WithRoleRef(roleRefApply(b.RoleRef)).WithSubjects(subjectsApply(b.Subjects)...)
		if _, err := cs.RbacV1().RoleBindings(b.Namespace).Apply(rctx, apply, opts); err != nil {
			if apierrors.IsNotFound(err) { // the namespace went away meanwhile
				c.log.Debug("project namespace does not exist", "namespace", b.Namespace)
				continue
			}
			c.failed("rbac", "apply role binding", "namespace", b.Namespace, "name", b.Name, "err", err)
			continue
		}
		c.log.Info("applied role binding", "namespace", b.Namespace, "name", b.Name, "role", b.RoleRef.Name,
			"binding", b.Labels[downstream.BindingLabel])
	}
}

// bindingOK reports whether an existing object grants exactly what is
// wanted: same role, same subjects (no extra ones), wanted labels present.
func bindingOK(haveLabels map[string]string, haveRef rbacv1.RoleRef, haveSubjects []rbacv1.Subject,
	wantLabels map[string]string, wantRef rbacv1.RoleRef, wantSubjects []rbacv1.Subject) bool {
	for k, v := range wantLabels {
		if haveLabels[k] != v {
			return false
		}
	}
	return haveRef == wantRef && slices.Equal(haveSubjects, wantSubjects)
}

func roleRefApply(r rbacv1.RoleRef) *rbacv1apply.RoleRefApplyConfiguration {
	return rbacv1apply.RoleRef().WithAPIGroup(r.APIGroup).WithKind(r.Kind).WithName(r.Name)
}

func subjectsApply(ss []rbacv1.Subject) []*rbacv1apply.SubjectApplyConfiguration {
	out := make([]*rbacv1apply.SubjectApplyConfiguration, 0, len(ss))
	for _, s := range ss {
		a := rbacv1apply.Subject().WithKind(s.Kind).WithName(s.Name)
		if s.APIGroup != "" {
			a.WithAPIGroup(s.APIGroup)
		}
		if s.Namespace != "" {
			a.WithNamespace(s.Namespace)
		}
		out = append(out, a)
	}
	return out
}
