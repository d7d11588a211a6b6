package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/schema"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// Phases of a provisioned cluster.
const (
	PhaseProvisioning = "provisioning"
	PhaseWaiting      = "waiting-for-agent"
	PhaseActive       = "active"
	PhaseUpdating     = "updating"
	PhaseRemoving     = "removing"
	PhaseError        = "error"
)

// Operations a cluster may have pending.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpRemove = "remove"
)

// Drivers runs drivers (satisfied by *driver.Registry).
type Drivers interface {
	Schema(ctx context.Context, name string) (schema.Schema, error)
	// Call starts the named driver, runs fn with it and stops it.
	Call(ctx context.Context, name string, fn func(context.Context, driverpb.DriverClient) error) error
}

// Tunnels report whether a cluster's agent is connected.
type Tunnels interface {
	Status(clusterID string) tunnel.Status
}

// Applier applies a multi-document YAML manifest with a credential.
type Applier interface {
	Apply(ctx context.Context, cfg *rest.Config, manifest []byte) error
}

// Options configure a Controller.
type Options struct {
	Store   *store.Store
	Drivers Drivers
	Sealer  *seal.Sealer
	Tunnels Tunnels
	Logger  *slog.Logger
	Now     func() time.Time
	// Applier defaults to server-side apply through the dynamic client.
	Applier Applier

	// What the agent manifest needs.
	ServerURL  string
	CAChecksum string
	AgentImage string
	// RegistrationTTL is the life of the registration tokens the
	// controller mints (0: no expiry); RegistrationGrace how long the
	// previous ones stay valid after a new manifest was applied.
	RegistrationTTL   time.Duration
	RegistrationGrace time.Duration
	// Removed is told of every cluster the controller deleted, with the
	// ids of the user tokens deleted with it (store.RemoveCluster), so the
	// deletion holds at once (api.API.ClusterRemoved); nil: nobody is.
	Removed func(clusterID string, tokenIDs []string)

	// CallTimeout bounds one driver call (default 15 min); ApplyTimeout the
	// agent manifest's apply (default 2 min); AgentTimeout how long the
	// agent may take to connect before the status says so (default 10 min).
	CallTimeout  time.Duration
	ApplyTimeout time.Duration
	AgentTimeout time.Duration
	// Resync is how often every cluster is looked at (default 2 s).
	Resync time.Duration
}

// Controller runs provisioning operations in the background, one at a
// time per cluster, and keeps their progress in the store.
type Controller struct {
	opts Options
	kick chan struct{}

	mu   sync.Mutex
	busy map[string]bool
	wg   sync.WaitGroup
}

// New returns a Controller; Run starts it.
func New(opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Applier == nil {
		opts.Applier = DynamicApplier{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.CallTimeout, 15*time.Minute)
	def(&opts.ApplyTimeout, 2*time.Minute)
	def(&opts.AgentTimeout, 10*time.Minute)
	def(&opts.Resync, 2*time.Second)
	return &Controller{opts: opts, kick: make(chan struct{}, 1), busy: map[string]bool{}}
}

// Run reconciles until ctx ends, then waits for running operations (which
// see ctx end too) to return. An interrupted operation is resumed by the
// next Run: drivers' Create, Update and Remove must be idempotent.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Resync)
	defer t.Stop()
	defer c.wg.Wait()
	for {
		c.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-t.C:
		}
	}
}

func (c *Controller) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Controller) reconcile(ctx context.Context) {
	ps, err := c.opts.Store.ListProvisioning(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.opts.Logger.Warn("list provisioned clusters", "err", err)
		}
		return
	}
	for _, p := range ps {
		switch {
		case p.Op != "" && p.Phase != PhaseError:
			if !c.lock(p.ClusterID) {
				continue
			}
			// The list may predate an operation that finished (and
			// unlocked) since: read the record again under the lock.
			fresh, err := c.opts.Store.Provisioning(ctx, p.ClusterID)
			if err != nil || fresh.Op == "" || fresh.Phase == PhaseError {
				c.unlock(p.ClusterID)
				continue
			}
			c.wg.Add(1)
			go c.run(ctx, fresh)
		case p.Op == "" && p.Phase == PhaseWaiting:
			c.checkAgent(ctx, p)
		}
	}
}

// lock marks a cluster busy; false if it was.
func (c *Controller) lock(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy[id] {
		return false
	}
	c.busy[id] = true
	return true
}

func (c *Controller) unlock(id string) {
	c.mu.Lock()
	delete(c.busy, id)
	c.mu.Unlock()
}

// agentLate is the message of a cluster whose agent is overdue.
const agentLate = "the agent has not connected yet; check the cattle-cluster-agent Deployment in namespace cattle-system"

func (c *Controller) checkAgent(ctx context.Context, p store.Provisioning) {
	now := c.opts.Now()
	switch {
	case c.opts.Tunnels.Status(p.ClusterID).Connected:
		c.setStatus(ctx, p, "", PhaseActive, "", nil)
		c.opts.Logger.Info("provisioned cluster is active", "cluster", p.ClusterID)
	case now.Sub(p.UpdatedAt) > c.opts.AgentTimeout && p.Message != agentLate:
		c.setStatus(ctx, p, "", PhaseWaiting, agentLate, nil)
	}
}

// run performs p's operation. It never panics out: a panic becomes the
// cluster's error.
func (c *Controller) run(ctx context.Context, p store.Provisioning) {
	defer c.wg.Done()
	defer c.poke()
	defer c.unlock(p.ClusterID)
	defer func() {
		if r := recover(); r != nil {
			c.opts.Logger.Error("provisioning panicked", "cluster", p.ClusterID, "op", p.Op, "panic", fmt.Sprint(r))
			c.fail(ctx, p, &stepError{step: p.Op, safe: "internal error", err: fmt.Errorf("panic: %v", r)})
		}
	}()
	c.opts.Logger.Info("provisioning operation", "cluster", p.ClusterID, "driver", p.Driver, "op", p.Op, "generation", p.Generation)
	var err error
	switch p.Op {
	case OpCreate:
		err = c.create(ctx, p)
	case OpUpdate:
		err = c.update(ctx, p)
	case OpRemove:
		err = c.remove(ctx, p)
	default:
		err = &stepError{step: p.Op, safe: "unknown operation", err: fmt.Errorf("unknown operation %q", p.Op)}
	}
	if err != nil && ctx.Err() == nil {
		c.fail(ctx, p, err)
	}
}

// stepError is a failed step: safe is for everyone, err for admins.
type stepError struct {
	step string
	safe string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// fail records an operation's error; the operation stays pending but is
// not retried until an admin asks again (update or delete).
func (c *Controller) fail(ctx context.Context, p store.Provisioning, err error) {
	var se *stepError
	if !errors.As(err, &se) {
		se = &stepError{step: p.Op, safe: "failed", err: err}
	}
	msg := fmt.Sprintf("%s failed: %s", se.step, se.safe)
	c.opts.Logger.Warn("provisioning failed", "cluster", p.ClusterID, "driver", p.Driver, "op", p.Op, "err", err)
	sealed, serr := c.opts.Sealer.Seal([]byte(err.Error()), purpose(p.ClusterID, "error"))
	if serr != nil {
		sealed = nil
	}
	c.setStatus(ctx, p, p.Op, PhaseError, msg, sealed)
}

// setStatus records a status if p's generation is still current.
func (c *Controller) setStatus(ctx context.Context, p store.Provisioning, op, phase, msg string, sealedErr []byte) bool {
	ok, err := c.opts.Store.SetProvisioningStatus(ctx, p.ClusterID, p.Generation, op, phase, msg, sealedErr, c.opts.Now().UTC())
	if err != nil && ctx.Err() == nil {
		c.opts.Logger.Warn("record provisioning status", "cluster", p.ClusterID, "err", err)
	}
	return ok
}

// progress records a step's message under the operation's phase.
func (c *Controller) progress(ctx context.Context, p store.Provisioning, phase, msg string) {
	c.setStatus(ctx, p, p.Op, phase, msg, nil)
}

func purpose(clusterID, field string) string { return "drover/cluster/" + clusterID + "/" + field }
