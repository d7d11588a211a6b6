package provision

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/schema"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

// storedConfig is what the sealed config column holds: the config and the
// names of its password fields, so that it can be shown without them
// without asking the driver for its schema.
type storedConfig struct {
	Config    schema.Config `json:"config"`
	Passwords []string      `json:"passwords,omitempty"`
}

func (c *Controller) sealConfig(clusterID string, s schema.Schema, cfg schema.Config) ([]byte, error) {
	sc := storedConfig{Config: cfg}
	for _, k := range cfg.Keys() {
		if s.Fields[k].Password {
			sc.Passwords = append(sc.Passwords, k)
		}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	return c.opts.Sealer.Seal(b, purpose(clusterID, "config"))
}

// openConfig returns the stored config as raw JSON values and its password
// fields.
func (c *Controller) openConfig(p store.Provisioning) (json.RawMessage, []string, error) {
	b, err := c.opts.Sealer.Open(p.Config, purpose(p.ClusterID, "config"))
	if err != nil {
		return nil, nil, err
	}
	var sc struct {
		Config    json.RawMessage `json:"config"`
		Passwords []string        `json:"passwords"`
	}
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, nil, err
	}
	return sc.Config, sc.Passwords, nil
}

func (c *Controller) openInfo(p store.Provisioning) (*driverpb.ClusterInfo, error) {
	info := &driverpb.ClusterInfo{}
	if len(p.Info) == 0 {
		return info, nil
	}
	b, err := c.opts.Sealer.Open(p.Info, purpose(p.ClusterID, "info"))
	if err != nil {
		return nil, err
	}
	return info, proto.Unmarshal(b, info)
}

func (c *Controller) saveInfo(ctx context.Context, clusterID string, info *driverpb.ClusterInfo) error {
	b, err := proto.Marshal(info)
	if err != nil {
		return err
	}
	sealed, err := c.opts.Sealer.Seal(b, purpose(clusterID, "info"))
	if err != nil {
		return err
	}
	return c.opts.Store.SaveProvisioningInfo(ctx, clusterID, sealed)
}

// prepare loads what every operation needs: the driver's schema, the
// config as options, and the driver's last ClusterInfo.
func (c *Controller) prepare(ctx context.Context, p store.Provisioning, create bool) (*driverpb.DriverOptions, *driverpb.ClusterInfo, error) {
	s, err := c.opts.Drivers.Schema(ctx, p.Driver)
	if err != nil {
		return nil, nil, &stepError{step: "starting the driver", safe: driver.SafeError(err), err: err}
	}
	raw, _, err := c.openConfig(p)
	if err != nil {
		return nil, nil, &stepError{step: "reading the config", safe: "the stored config cannot be read", err: err}
	}
	cfg, err := s.Decode(raw)
	if err != nil {
		return nil, nil, &stepError{step: "reading the config", safe: "the stored config does not fit the driver's schema", err: err}
	}
	info, err := c.openInfo(p)
	if err != nil {
		return nil, nil, &stepError{step: "reading the cluster's state", safe: "the stored state cannot be read", err: err}
	}
	opts := s.Options(cfg, create)
	cl, err := c.opts.Store.Cluster(ctx, p.ClusterID)
	if err != nil {
		return nil, nil, &stepError{step: "reading the cluster", safe: "the cluster cannot be read", err: err}
	}
	// As kontainer-engine does: the driver learns the cluster's name.
	opts.StringOptions["name"] = cl.ID
	opts.StringOptions["display-name"] = cl.Name
	opts.StringOptions["displayName"] = cl.Name
	return opts, info, nil
}

// call runs one driver call, bounded by CallTimeout; the driver process
// lives for this call only.
func (c *Controller) call(ctx context.Context, p store.Provisioning, step string, fn func(context.Context, driverpb.DriverClient) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	if err := c.opts.Drivers.Call(ctx, p.Driver, fn); err != nil {
		return &stepError{step: step, safe: driver.SafeError(err), err: err}
	}
	return nil
}

// createOrUpdate runs Create (or Update), PostCheck and the agent install.
func (c *Controller) createOrUpdate(ctx context.Context, p store.Provisioning, create bool) error {
	phase, step := PhaseUpdating, "Update"
	if create {
		phase, step = PhaseProvisioning, "Create"
	}
	c.progress(ctx, p, phase, "starting the driver")
	opts, info, err := c.prepare(ctx, p, create)
	if err != nil {
		return err
	}
	c.progress(ctx, p, phase, fmt.Sprintf("the driver is running %s", step))
	err = c.call(ctx, p, step, func(ctx context.Context, d driverpb.DriverClient) error {
		var out *driverpb.ClusterInfo
		var err error
		if create {
			out, err = d.Create(ctx, &driverpb.CreateRequest{DriverOptions: opts, ClusterInfo: info})
		} else {
			out, err = d.Update(ctx, &driverpb.UpdateRequest{ClusterInfo: info, DriverOptions: opts})
		}
		if err == nil && out != nil {
			info = out
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := c.saveInfo(ctx, p.ClusterID, info); err != nil {
		return &stepError{step: step, safe: "saving the cluster's state failed", err: err}
	}
	c.progress(ctx, p, phase, "the driver is running PostCheck")
	if err := c.call(ctx, p, "PostCheck", func(ctx context.Context, d driverpb.DriverClient) error {
		out, err := d.PostCheck(ctx, info)
		if err == nil && out != nil {
			info = out
		}
		return err
	}); err != nil {
		return err
	}
	if err := c.saveInfo(ctx, p.ClusterID, info); err != nil {
		return &stepError{step: "PostCheck", safe: "saving the cluster's state failed", err: err}
	}
	c.progress(ctx, p, phase, "installing the agent")
	if err := c.installAgent(ctx, p.ClusterID, info); err != nil {
		return err
	}
	next, msg := PhaseWaiting, "waiting for the agent to connect"
	if c.opts.Tunnels.Status(p.ClusterID).Connected {
		next, msg = PhaseActive, ""
	}
	c.setStatus(ctx, p, "", next, msg, nil)
	return nil
}

func (c *Controller) create(ctx context.Context, p store.Provisioning) error {
	return c.createOrUpdate(ctx, p, true)
}

func (c *Controller) update(ctx context.Context, p store.Provisioning) error {
	return c.createOrUpdate(ctx, p, false)
}

// remove calls the driver's Remove, then deletes the cluster (and, with it,
// its provisioning state and registration tokens).
func (c *Controller) remove(ctx context.Context, p store.Provisioning) error {
	c.progress(ctx, p, PhaseRemoving, "starting the driver")
	info, err := c.openInfo(p)
	if err != nil {
		return &stepError{step: "reading the cluster's state", safe: "the stored state cannot be read", err: err}
	}
	c.progress(ctx, p, PhaseRemoving, "the driver is running Remove")
	if err := c.call(ctx, p, "Remove", func(ctx context.Context, d driverpb.DriverClient) error {
		_, err := d.Remove(ctx, info)
		return err
	}); err != nil {
		return err
	}
	if err := c.removeCluster(ctx, p.ClusterID); err != nil {
		return &stepError{step: "Remove", safe: "deleting the cluster's record failed", err: err}
	}
	c.opts.Logger.Info("provisioned cluster removed", "cluster", p.ClusterID, "driver", p.Driver)
	return nil
}

// removeCluster deletes the cluster with the tokens scoped to it and tells
// Options.Removed.
func (c *Controller) removeCluster(ctx context.Context, id string) error {
	removed, err := c.opts.Store.RemoveCluster(ctx, id)
	if err != nil {
		return err
	}
	if c.opts.Removed != nil {
		c.opts.Removed(id, removed.Tokens)
	}
	return nil
}

// installAgent mints a registration token and applies the agent manifest
// into the cluster with the credential PostCheck returned. Earlier tokens
// keep working for RegistrationGrace, so a running agent reconnects.
func (c *Controller) installAgent(ctx context.Context, clusterID string, info *driverpb.ClusterInfo) error {
	fail := func(safe string, err error) error {
		return &stepError{step: "installing the agent", safe: safe, err: err}
	}
	cfg, err := RESTConfig(info)
	if err != nil {
		return fail("the driver returned no usable endpoint, CA or credential", err)
	}
	tok, err := token.New(ids.Registration)
	if err != nil {
		return fail("internal error", err)
	}
	h, err := token.Hash(tok)
	if err != nil {
		return fail("internal error", err)
	}
	now := c.opts.Now().UTC()
	rec := store.RegistrationToken{ID: tok.ID, ClusterID: clusterID, Kind: store.AgentCluster, Hashed: h, CreatedAt: now}
	if c.opts.RegistrationTTL > 0 {
		rec.ExpiresAt = now.Add(c.opts.RegistrationTTL)
	}
	if err := c.opts.Store.CreateRegistrationToken(ctx, rec); err != nil {
		return fail("internal error", err)
	}
	yaml, err := manifest.Render(manifest.Options{ServerURL: c.opts.ServerURL, CAChecksum: c.opts.CAChecksum,
		Token: tok.String(), Image: c.opts.AgentImage})
	if err != nil {
		return fail("rendering the agent manifest failed", err)
	}
	applyCtx, cancel := context.WithTimeout(ctx, c.opts.ApplyTimeout)
	defer cancel()
	if err := c.opts.Applier.Apply(applyCtx, cfg, yaml); err != nil {
		return fail("applying the agent manifest to the cluster failed", err)
	}
	if _, err := c.opts.Store.SupersedeRegistrations(ctx, clusterID, tok.ID, now.Add(c.opts.RegistrationGrace)); err != nil {
		c.opts.Logger.Warn("expire earlier registration tokens", "cluster", clusterID, "err", err)
	}
	return nil
}
