package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/rollout"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// Sessions is what the manager reads from the tunnel server: controllers
// run only on cluster-agent sessions, the only ones that carry the
// controller's credential.
type Sessions interface {
	ClusterAgent(clusterID string) (*tunnel.Session, bool)
	Clusters() []string
}

// Store keeps gathered status and knows each cluster's scoped tokens.
type Store interface {
	SaveClusterStatus(ctx context.Context, clusterID string, status []byte, at time.Time) error
	// SaveClusterStatusFenced writes only while the lease is current
	// (server replicas).
	SaveClusterStatusFenced(ctx context.Context, clusterID string, status []byte, at time.Time, l store.Lease) (bool, error)
	ClusterScopedTokens(ctx context.Context, clusterID string, now time.Time) ([]store.ScopedToken, error)
	// Drover's bindings, projects and users, which the controller writes
	// downstream as RBAC (rbac.go).
	ListBindings(ctx context.Context, f store.BindingFilter) ([]store.Binding, error)
	ListProjects(ctx context.Context, clusterID string) ([]store.Project, error)
	UserByID(ctx context.Context, id string) (store.User, error)
}

// Options configure a Manager.
type Options struct {
	Sessions Sessions
	Store    Store
	// Reach says who may reach the cluster (access.Checker): only their
	// tokens are synced to its authorized endpoint.
	Reach Reacher
	// Accounts are the impersonation accounts this controller sweeps;
	// nil: none.
	Accounts *accounts.Manager
	Logger   *slog.Logger
	Now      func() time.Time
	// ServerURL is written next to pushed registration tokens.
	ServerURL string
	// Interval between status gatherings (default 5 s).
	Interval time.Duration
	// Resync is how often the manager looks for new or changed sessions
	// (default 500 ms).
	Resync time.Duration
	// Metrics receives the controllers' figures; nil: a private registry.
	Metrics *metrics.Server
	// Leases make a cluster's controller run on one server replica at a
	// time, even when two replicas hold tunnels of its cluster agents
	// (package replica); nil: a server alone runs them all.
	Leases Leases
	// Rollout rolls the agent image the server ships out to the cluster,
	// one step a pass (package rollout); nil: the controller leaves the
	// agents' workloads alone.
	Rollout *rollout.Rollout
}

// Leases hand out named leases across server replicas (replica.Leases).
type Leases interface {
	// Hold takes the named lease and keeps it; held ends when ctx ends or
	// the lease is lost, release lets it go. ok is false when another
	// replica holds it.
	Hold(ctx context.Context, name string) (held context.Context, lease store.Lease, release func(), ok bool, err error)
}

// leaseName is the lease of a cluster's controller.
func leaseName(clusterID string) string { return "controller/" + clusterID }

// leaseRetry is how often a replica with a cluster agent's tunnel but not
// the lease of its controller asks for it again.
const leaseRetry = 2 * time.Second

// Reacher answers whether a user may reach a cluster (access.Checker).
type Reacher interface {
	MayReach(ctx context.Context, caller access.Caller, clusterID string) (access.Verdict, error)
}

// Manager runs one controller per live session.
type Manager struct {
	opts    Options
	mu      sync.Mutex
	running map[string]*running // cluster id
	// asked is when the lease of a cluster's controller was last asked
	// for and refused.
	asked map[string]time.Time
	wg    sync.WaitGroup
}

type running struct {
	session *tunnel.Session
	cancel  context.CancelFunc
	trigger chan struct{}
}

// Kick makes every running controller reconcile now (after a revocation,
// so the authorized endpoints drop the token at once).
func (m *Manager) Kick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.running {
		select {
		case r.trigger <- struct{}{}:
		default:
		}
	}
}

// New returns a Manager.
func New(opts Options) *Manager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.Resync <= 0 {
		opts.Resync = 500 * time.Millisecond
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewServer()
	}
	return &Manager{opts: opts, running: map[string]*running{}, asked: map[string]time.Time{}}
}

// Run keeps controllers in step with the live sessions until ctx is done,
// then stops them all and waits for them.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Resync)
	defer t.Stop()
	for {
		m.sync(ctx)
		select {
		case <-ctx.Done():
			m.mu.Lock()
			for id, r := range m.running {
				r.cancel()
				delete(m.running, id)
			}
			m.opts.Metrics.Controllers.Set(0)
			m.mu.Unlock()
			m.wg.Wait()
			return
		case <-t.C:
		}
	}
}

func (m *Manager) sync(ctx context.Context) {
	live := map[string]*tunnel.Session{}
	for _, id := range m.opts.Sessions.Clusters() {
		if s, ok := m.opts.Sessions.ClusterAgent(id); ok {
			live[id] = s
		}
	}
	m.mu.Lock()
	for id, r := range m.running {
		if live[id] != r.session {
			r.cancel()
			delete(m.running, id)
		}
	}
	var start []string
	for id := range live {
		if _, ok := m.running[id]; !ok {
			start = append(start, id)
		}
	}
	for id := range m.asked {
		if live[id] == nil {
			delete(m.asked, id)
		}
	}
	m.mu.Unlock()

	for _, id := range start {
		m.start(ctx, id, live[id])
	}
	m.mu.Lock()
	m.opts.Metrics.Controllers.Set(float64(len(m.running)))
	m.mu.Unlock()
}

// start runs a controller on the cluster agent's session s, once this
// server holds the lease of the cluster's controller (with Leases).
func (m *Manager) start(ctx context.Context, id string, s *tunnel.Session) {
	cctx, cancel := context.WithCancel(ctx)
	lease, release := store.Lease{}, func() {}
	if m.opts.Leases != nil {
		m.mu.Lock()
		recent := m.opts.Now().Sub(m.asked[id]) < leaseRetry
		m.mu.Unlock()
		if recent {
			cancel()
			return
		}
		held, l, rel, ok, err := m.opts.Leases.Hold(cctx, leaseName(id))
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				m.opts.Logger.Warn("ask for the lease of a cluster's controller", "cluster", id, "err", err)
			}
			m.mu.Lock()
			m.asked[id] = m.opts.Now()
			m.mu.Unlock()
			cancel()
			return
		}
		cctx, lease, release = held, l, rel
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.running[id]; ok || ctx.Err() != nil {
		cancel()
		release()
		return
	}
	trigger := make(chan struct{}, 1)
	r := &running{session: s, cancel: cancel, trigger: trigger}
	m.running[id] = r
	delete(m.asked, id)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.forget(id)
		defer release()
		c := &clusterController{opts: m.opts, session: s, trigger: trigger, lease: lease, log: m.opts.Logger.With("cluster", id)}
		c.run(cctx)
		// Stopped by a lost lease rather than the manager: the next sync
		// may start it again once the lease is back.
		m.mu.Lock()
		if m.running[id] == r {
			delete(m.running, id)
		}
		m.mu.Unlock()
		cancel()
	}()
}

type clusterController struct {
	opts    Options
	session *tunnel.Session
	trigger chan struct{}
	// lease is the lease it runs under (zero: a server alone).
	lease store.Lease
	log   *slog.Logger
}

func (c *clusterController) run(ctx context.Context) {
	cfg := c.session.ControllerConfig()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		c.log.Error("controller client", "err", err)
		return
	}
	// The informers' client has no request timeout: client-go applies
	// rest.Config.Timeout to watches too, which cut every informer watch
	// after 10 s and opened it again (0.4 requests a second per cluster,
	// test/fleet). Their watches end when the apiserver's timeoutSeconds
	// (5-10 min) does, or with the tunnel.
	wcfg := rest.CopyConfig(cfg)
	wcfg.Timeout = 0
	wcs, err := kubernetes.NewForConfig(wcfg)
	if err != nil {
		c.log.Error("controller watch client", "err", err)
		return
	}
	c.log.Info("cluster controller started")
	defer c.log.Info("cluster controller stopped")

	trigger := c.trigger
	kick := func() {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(wcs, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = downstream.ManagedByLabel + "=" + downstream.ManagedByValue
		}))
	inf := factory.Rbac().V1().ClusterRoleBindings().Informer()
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, _ any) { kick() },
		DeleteFunc: func(any) { kick() },
	})
	rbac := newRBACSync(wcs, factory, kick)
	// Token Secrets for the authorized cluster endpoint, in cattle-system.
	nsFactory := informers.NewSharedInformerFactoryWithOptions(wcs, 10*time.Minute,
		informers.WithNamespace(downstream.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = downstream.TokenSecretLabel }))
	secretInf := nsFactory.Core().V1().Secrets()
	secretInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, _ any) { kick() },
		DeleteFunc: func(any) { kick() },
	})
	factory.Start(ctx.Done())
	nsFactory.Start(ctx.Done())
	rbac.start(ctx)
	defer rbac.shutdown()
	defer factory.Shutdown()
	defer nsFactory.Shutdown()

	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	synced, tlsEnsured, legacyGone := false, false, false
	var swept time.Time
	kicked := false
	for {
		began := time.Now()
		if !legacyGone {
			legacyGone = c.removeLegacy(ctx, cs)
		}
		if kicked || c.opts.Now().Sub(swept) >= sweepEvery {
			c.sweepAccounts(ctx, cs)
			swept = c.opts.Now()
		}
		// Bindings first: after a kick (a binding removed) access should go
		// before anything slower runs.
		if rbac.hasSynced() {
			c.reconcileRBAC(ctx, cs, rbac)
		}
		c.gatherAndSave(ctx, cs, c.rollout(ctx, cs))
		if !synced && inf.HasSynced() {
			synced = true
		}
		if synced {
			c.reconcile(ctx, cs, inf.GetStore())
		}
		if !tlsEnsured {
			if err := c.ensureAuthEndpointTLS(ctx, cs); err != nil && ctx.Err() == nil {
				c.failed("auth_endpoint_tls", "authorized endpoint certificate", "err", err)
			} else {
				tlsEnsured = true
			}
		}
		if secretInf.Informer().HasSynced() {
			if err := c.syncTokens(ctx, cs, secretInf.Lister().Secrets(downstream.Namespace)); err != nil && ctx.Err() == nil {
				c.failed("tokens", "sync token secrets", "err", err)
			}
		}
		c.opts.Metrics.ControllerPass.Observe(time.Since(began).Seconds())
		kicked = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-trigger:
			kicked = true
		}
	}
}

// rollout runs a step of the agent roll-out; nil without one.
func (c *clusterController) rollout(ctx context.Context, cs kubernetes.Interface) *rollout.State {
	if c.opts.Rollout == nil {
		return nil
	}
	st := c.opts.Rollout.Step(ctx, cs, rollout.Agent{ClusterID: c.session.ClusterID,
		Version: c.session.AgentVersion, ConnectedAt: c.session.ConnectedAt})
	if st.Phase == rollout.PhaseError && ctx.Err() == nil {
		c.failed("rollout", "agent roll-out", "err", st.Reason)
	}
	return &st
}

func (c *clusterController) gatherAndSave(ctx context.Context, cs kubernetes.Interface, agent *rollout.State) {
	gctx, cancel := context.WithTimeout(ctx, c.opts.Interval)
	defer cancel()
	st := gather(gctx, cs, c.opts.Now())
	st.Agent = agent
	if ctx.Err() != nil {
		return // stopping: do not record a half-gathered status
	}
	c.observe(st)
	b, err := json.Marshal(st)
	if err != nil {
		c.log.Error("encode status", "err", err)
		return
	}
	if err := c.saveStatus(ctx, b, st.GatheredAt); err != nil && ctx.Err() == nil {
		c.failed("save_status", "save status", "err", err)
	}
}

// reconcile puts Drover's admin binding back if it is missing or changed.
func (c *clusterController) reconcile(ctx context.Context, cs kubernetes.Interface, cached cache.Store) {
	obj, exists, _ := cached.GetByKey(downstream.AdminBinding)
	if exists {
		if b, ok := obj.(*rbacv1.ClusterRoleBinding); ok && adminBindingOK(b) {
			return
		}
	}
	crb := rbacv1apply.ClusterRoleBinding(downstream.AdminBinding).WithLabels(downstream.Labels()).
		WithRoleRef(rbacv1apply.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName("cluster-admin")).
		WithSubjects(rbacv1apply.Subject().WithKind("Group").WithAPIGroup("rbac.authorization.k8s.io").WithName(downstream.AdminGroup))
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(rctx, crb, metav1.ApplyOptions{FieldManager: "drover-controller", Force: true}); err != nil {
		c.failed("admin_binding", "restore admin binding", "err", fmt.Errorf("apply %s: %w", downstream.AdminBinding, err))
		return
	}
	c.log.Info("restored admin binding", "binding", downstream.AdminBinding)
}

func adminBindingOK(b *rbacv1.ClusterRoleBinding) bool {
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != "cluster-admin" || len(b.Subjects) != 1 {
		return false
	}
	s := b.Subjects[0]
	return s.Kind == "Group" && s.Name == downstream.AdminGroup
}

// forget removes a stopped controller's per-cluster series, unless a
// controller for a new session of the cluster already runs (it sets them).
// saveStatus writes the gathered status: under the lease when there is
// one, so that nothing is written once another replica took over.
func (c *clusterController) saveStatus(ctx context.Context, b []byte, at time.Time) error {
	if c.lease.Name == "" {
		return c.opts.Store.SaveClusterStatus(ctx, c.session.ClusterID, b, at)
	}
	ok, err := c.opts.Store.SaveClusterStatusFenced(ctx, c.session.ClusterID, b, at, c.lease)
	if err == nil && !ok {
		c.log.Warn("the lease of this cluster's controller went to another replica: status not written")
	}
	return err
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, running := m.running[id]; !running {
		m.opts.Metrics.ForgetCluster(id)
		if m.opts.Rollout != nil {
			m.opts.Rollout.Forget(id)
		}
	}
}

// failed logs a step that failed and counts it by step (a fixed name).
func (c *clusterController) failed(step, msg string, args ...any) {
	c.opts.Metrics.ControllerErrors.WithLabelValues(step).Inc()
	c.log.Warn(msg, args...)
}

// observe exports what an operator alerts on from a gathered status: the
// apiserver's readiness and the nodes by readiness.
func (c *clusterController) observe(st Status) {
	m, id := c.opts.Metrics, c.session.ClusterID
	if len(st.Errors) > 0 {
		m.ControllerErrors.WithLabelValues("status").Inc()
	}
	ready := 0.0
	if st.APIServer.Ready {
		ready = 1
	}
	m.APIServerReady.WithLabelValues(id).Set(ready)
	var up, down float64
	for _, n := range st.Nodes {
		if n.Ready {
			up++
		} else {
			down++
		}
	}
	m.Nodes.WithLabelValues(id, "true").Set(up)
	m.Nodes.WithLabelValues(id, "false").Set(down)
}
