package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/sdk"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
)

// Errors of requests; their messages are safe for clients.
var (
	// ErrNotProvisioned: the cluster was imported, not made by a driver.
	ErrNotProvisioned = errors.New("the cluster was not provisioned by a driver")
	// ErrBusy: another operation is running or pending.
	ErrBusy = errors.New("another operation is in progress on the cluster")
	// ErrUnknownDriver: no driver of that name is registered.
	ErrUnknownDriver = errors.New("no such driver")
)

// DriverError is a driver that could not be started or asked for its
// schema. Safe is for clients; Err for the log.
type DriverError struct {
	Safe string
	Err  error
}

func (e *DriverError) Error() string { return e.Safe }
func (e *DriverError) Unwrap() error { return e.Err }

// CreateRequest asks for a cluster from a driver.
type CreateRequest struct {
	Name   string
	Driver string
	Config json.RawMessage
}

// Create validates the config against the driver's schema (errors are
// *schema.FieldError), records the cluster and its config (sealed), and
// leaves the rest to the background: the answer comes before the driver's
// Create is called.
func (c *Controller) Create(ctx context.Context, req CreateRequest) (store.Cluster, error) {
	s, err := c.opts.Drivers.Schema(ctx, req.Driver)
	if errors.Is(err, driver.ErrNotFound) {
		return store.Cluster{}, fmt.Errorf("driver %q: %w", req.Driver, ErrUnknownDriver)
	}
	if err != nil {
		return store.Cluster{}, &DriverError{Safe: driver.SafeError(err), Err: err}
	}
	cfg, err := s.Validate(req.Config)
	if err != nil {
		return store.Cluster{}, err
	}
	now := c.opts.Now().UTC()
	for range 5 { // a 5-character id can collide; try again
		var id string
		if id, err = ids.Cluster.New(); err != nil {
			return store.Cluster{}, err
		}
		sealed, err := c.sealConfig(id, s, cfg)
		if err != nil {
			return store.Cluster{}, err
		}
		cl := store.Cluster{ID: id, Name: req.Name, CreatedAt: now}
		err = c.opts.Store.CreateProvisionedCluster(ctx, cl, store.Provisioning{Driver: req.Driver, Op: OpCreate,
			Phase: PhaseProvisioning, Message: "queued", Config: sealed, UpdatedAt: now})
		if err == nil {
			c.opts.Logger.Info("cluster provisioning requested", "cluster", id, "name", req.Name, "driver", req.Driver,
				"fields", slices.Sorted(maps.Keys(cfg)))
			c.poke()
			return cl, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return store.Cluster{}, err
		}
		if _, lookErr := c.opts.Store.Cluster(ctx, id); lookErr != nil {
			return store.Cluster{}, err // the conflict was the name, not the id
		}
	}
	return store.Cluster{}, err
}

// provisioning returns a cluster's row, or ErrNotProvisioned /
// store.ErrNotFound.
func (c *Controller) provisioning(ctx context.Context, id string) (store.Provisioning, error) {
	p, err := c.opts.Store.Provisioning(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if _, cerr := c.opts.Store.Cluster(ctx, id); cerr == nil {
			return p, ErrNotProvisioned
		}
	}
	return p, err
}

// Update applies a config patch (fields given replace the stored ones;
// null unsets) and asks for the driver's Update, or for Create again when
// creating failed.
func (c *Controller) Update(ctx context.Context, id string, patch json.RawMessage) error {
	p, err := c.provisioning(ctx, id)
	if err != nil {
		return err
	}
	if p.Op == OpRemove || (p.Op != "" && p.Phase != PhaseError) {
		return ErrBusy
	}
	s, err := c.opts.Drivers.Schema(ctx, p.Driver)
	if err != nil {
		return &DriverError{Safe: driver.SafeError(err), Err: err}
	}
	raw, _, err := c.openConfig(p)
	if err != nil {
		return err
	}
	old, err := s.Decode(raw)
	if err != nil {
		return err
	}
	cfg, err := s.Update(old, patch)
	if err != nil {
		return err
	}
	sealed, err := c.sealConfig(id, s, cfg)
	if err != nil {
		return err
	}
	op, phase := OpUpdate, PhaseUpdating
	if p.Op == OpCreate {
		op, phase = OpCreate, PhaseProvisioning
	}
	if _, err := c.opts.Store.RequestProvisioning(ctx, id, op, phase, "queued", sealed, c.opts.Now().UTC()); err != nil {
		return err
	}
	c.poke()
	return nil
}

// Remove asks for the driver's Remove, after which the cluster is deleted.
// With force, a cluster whose last operation failed is deleted without
// asking the driver (what it made stays).
func (c *Controller) Remove(ctx context.Context, id string, force bool) error {
	p, err := c.provisioning(ctx, id)
	if err != nil {
		return err
	}
	if force {
		if p.Phase != PhaseError {
			return fmt.Errorf("%w: force only deletes a cluster whose last operation failed", ErrBusy)
		}
		c.opts.Logger.Warn("provisioned cluster deleted without the driver's Remove", "cluster", id, "driver", p.Driver)
		return c.removeCluster(ctx, id)
	}
	if p.Op == OpRemove && p.Phase != PhaseError {
		return nil // already on its way
	}
	if _, err := c.opts.Store.RequestProvisioning(ctx, id, OpRemove, PhaseRemoving, "queued", nil, c.opts.Now().UTC()); err != nil {
		return err
	}
	c.poke()
	return nil
}

// Snapshot actions.
const (
	SnapshotSave    = "save"
	SnapshotRestore = "restore"
	SnapshotRemove  = "remove"
)

// OpError is a driver call that failed. Safe is for everyone; Detail (what
// the driver said) is for admins.
type OpError struct {
	Safe   string
	Detail string
}

func (e *OpError) Error() string { return e.Safe }

// Snapshot saves, restores or removes an etcd snapshot through the driver
// and waits for it (bounded by CallTimeout). The cluster must be settled:
// no operation pending.
func (c *Controller) Snapshot(ctx context.Context, id, action, name string) error {
	if err := sdk.CheckSnapshotName(name); err != nil {
		return err
	}
	p, err := c.provisioning(ctx, id)
	if err != nil {
		return err
	}
	if p.Op != "" || !c.lock(id) {
		return ErrBusy
	}
	defer c.unlock(id)
	// Re-read: an operation may have been asked for before the lock.
	if p, err = c.provisioning(ctx, id); err != nil {
		return err
	}
	if p.Op != "" {
		return ErrBusy
	}
	opts, info, err := c.prepare(ctx, p, false)
	if err != nil {
		return opError(err)
	}
	start := c.opts.Now()
	var restored *driverpb.ClusterInfo
	err = c.call(ctx, p, "etcd snapshot "+action, func(ctx context.Context, d driverpb.DriverClient) error {
		var err error
		switch action {
		case SnapshotSave:
			_, err = d.ETCDSave(ctx, &driverpb.SaveETCDSnapshotRequest{Info: info, DriverOptions: opts, SnapshotName: name})
		case SnapshotRestore:
			restored, err = d.ETCDRestore(ctx, &driverpb.RestoreETCDSnapshotRequest{Info: info, DriverOptions: opts, SnapshotName: name})
		case SnapshotRemove:
			_, err = d.ETCDRemoveSnapshot(ctx, &driverpb.RemoveETCDSnapshotRequest{Info: info, DriverOptions: opts, SnapshotName: name})
		default:
			err = fmt.Errorf("unknown snapshot action %q", action)
		}
		return err
	})
	if err != nil {
		c.opts.Logger.Warn("etcd snapshot failed", "cluster", id, "action", action, "snapshot", name, "err", err)
		return opError(err)
	}
	if restored != nil && restored.GetEndpoint() != "" {
		if err := c.saveInfo(ctx, id, restored); err != nil {
			return err
		}
	}
	c.opts.Logger.Info("etcd snapshot", "cluster", id, "action", action, "snapshot", name,
		"took", c.opts.Now().Sub(start).Round(time.Millisecond))
	return nil
}

func opError(err error) error {
	var se *stepError
	if errors.As(err, &se) {
		return &OpError{Safe: se.step + " failed: " + se.safe, Detail: se.err.Error()}
	}
	return &OpError{Safe: "failed", Detail: err.Error()}
}

// View is a provisioned cluster's state as the API shows it.
type View struct {
	Driver  string `json:"driver"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// Error is the cause of the last failure, possibly in the driver's own
	// words: for admins only.
	Error string `json:"error,omitempty"`
	// Config is the cluster's config without its password fields: for
	// admins only.
	Config    map[string]any `json:"config,omitempty"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

// View returns the provisioning view of a cluster, nil for one no driver
// made.
func (c *Controller) View(ctx context.Context, id string, admin bool) (*View, error) {
	p, err := c.opts.Store.Provisioning(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &View{Driver: p.Driver, Phase: p.Phase, Message: p.Message, UpdatedAt: p.UpdatedAt}
	if !admin {
		return v, nil
	}
	if len(p.Error) > 0 {
		if b, err := c.opts.Sealer.Open(p.Error, purpose(id, "error")); err == nil {
			v.Error = string(b)
		}
	}
	if raw, passwords, err := c.openConfig(p); err == nil {
		cfg := map[string]any{}
		if json.Unmarshal(raw, &cfg) == nil {
			for _, k := range passwords {
				delete(cfg, k)
			}
			v.Config = cfg
		}
	}
	return v, nil
}
