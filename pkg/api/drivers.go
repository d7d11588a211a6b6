package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gorilla/mux"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/driver/schema"
	"github.com/drover-dev/drover/pkg/driver/sdk"
	"github.com/drover-dev/drover/pkg/provision"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
)

// DriverRegistry lists, installs and describes cluster drivers
// (*driver.Registry).
type DriverRegistry interface {
	List(ctx context.Context) ([]driver.Info, error)
	Get(ctx context.Context, name string) (driver.Info, error)
	Install(ctx context.Context, q driver.InstallRequest) (driver.Info, error)
	Delete(ctx context.Context, name string) error
	Schema(ctx context.Context, name string) (schema.Schema, error)
}

// Provisioner makes, changes and removes clusters through drivers
// (*provision.Controller).
type Provisioner interface {
	Create(ctx context.Context, req provision.CreateRequest) (store.Cluster, error)
	Update(ctx context.Context, id string, patch json.RawMessage) error
	Remove(ctx context.Context, id string, force bool) error
	Snapshot(ctx context.Context, id, action, name string) error
	View(ctx context.Context, id string, admin bool) (*provision.View, error)
}

// provisioningView is the "provisioning" part of a cluster's view: nil for
// imported clusters. Only admins see errors and configs.
func (a *API) provisioningView(ctx context.Context, id string) *provision.View {
	if a.opts.Provisioning == nil {
		return nil
	}
	v, err := a.opts.Provisioning.View(ctx, id, identity(ctx).Admin)
	if err != nil {
		a.opts.Logger.Warn("read provisioning state", "cluster", id, "err", err)
		return nil
	}
	return v
}

// driverView is a driver as the API shows it: its download URL without
// userinfo, query or fragment (a presigned URL's signature stays with the
// admin who installed it).
func driverView(d driver.Info) driver.Info {
	d.URL = request.RedactURL(d.URL)
	return d
}

func (a *API) listDrivers(w http.ResponseWriter, r *http.Request) {
	out := []driver.Info{}
	if a.opts.Drivers != nil {
		list, err := a.opts.Drivers.List(r.Context())
		if err != nil {
			a.storeError(w, "drivers", err)
			return
		}
		for _, d := range list {
			out = append(out, driverView(d))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) getDriver(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if a.opts.Drivers == nil {
		apierr.NotFound(w, "driver %q not found", name)
		return
	}
	d, err := a.opts.Drivers.Get(r.Context(), name)
	if err != nil {
		a.driverError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, driverView(d))
}

// driverSchema serves the schema of a driver's cluster config, read from
// the driver (started for it the first time).
func (a *API) driverSchema(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if a.opts.Drivers == nil {
		apierr.NotFound(w, "driver %q not found", name)
		return
	}
	s, err := a.opts.Drivers.Schema(r.Context(), name)
	if err != nil {
		a.driverError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *API) installDriver(w http.ResponseWriter, r *http.Request) {
	var req driver.InstallRequest
	if !decode(w, r, &req) {
		return
	}
	if a.opts.Drivers == nil {
		apierr.Invalid(w, "cluster drivers are not enabled on this server")
		return
	}
	d, err := a.opts.Drivers.Install(r.Context(), req)
	var ie *driver.InstallError
	switch {
	case errors.Is(err, driver.ErrUnsandboxed):
		apierr.Conflict(w, "%s", driver.SafeError(err))
	case errors.As(err, &ie):
		if ie.Err != nil {
			a.opts.Logger.Warn("driver install refused", "driver", req.Name, "reason", ie.Msg, "err", ie.Err)
		}
		apierr.Invalid(w, "%s", ie.Error())
	case errors.Is(err, driver.ErrExists):
		apierr.AlreadyExists(w, "driver %q already exists", req.Name)
	case err != nil:
		a.opts.Logger.Error("install driver", "driver", req.Name, "err", err)
		apierr.Internal(w)
	default:
		a.opts.Logger.Info("driver installed", "driver", d.Name, "by", identity(r.Context()).Username)
		writeJSON(w, http.StatusCreated, driverView(d))
	}
}

func (a *API) deleteDriver(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if a.opts.Drivers == nil {
		apierr.NotFound(w, "driver %q not found", name)
		return
	}
	err := a.opts.Drivers.Delete(r.Context(), name)
	switch {
	case errors.Is(err, driver.ErrBuiltin):
		apierr.Conflict(w, "driver %q is built in; remove it from --driver-dir", name)
	case errors.Is(err, store.ErrConflict):
		apierr.Conflict(w, "driver %q is used by clusters; remove them first", name)
	case err != nil:
		a.driverError(w, name, err)
	default:
		a.opts.Logger.Info("driver deleted", "driver", name, "by", identity(r.Context()).Username)
		w.WriteHeader(http.StatusNoContent)
	}
}

// driverError answers an error from the registry in Drover's own words.
func (a *API) driverError(w http.ResponseWriter, name string, err error) {
	if errors.Is(err, driver.ErrNotFound) {
		apierr.NotFound(w, "driver %q not found", name)
		return
	}
	if errors.Is(err, driver.ErrUnsandboxed) {
		apierr.Conflict(w, "%s", driver.SafeError(err))
		return
	}
	a.opts.Logger.Warn("cluster driver", "driver", name, "err", err)
	apierr.Unavailable(w, "driver %q is not available: %s", name, driver.SafeError(err))
}

type createDriverClusterRequest struct {
	Name   string          `json:"name"`
	Driver string          `json:"driver"`
	Config json.RawMessage `json:"config"`
}

// createClusterWithDriver serves POST /v3/clusters: with a driver it has the
// cluster provisioned, without one it is the import flow (createCluster).
func (a *API) createClusterWithDriver(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		apierr.TooLarge(w, "request body larger than 1 MiB")
		return
	}
	var req createDriverClusterRequest
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !decode(w, r, &req) {
		return
	}
	if req.Driver == "" {
		if req.Config != nil {
			apierr.Invalid(w, "config needs a driver")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.createCluster(w, r)
		return
	}
	if len(validation.IsDNS1123Label(req.Name)) > 0 {
		apierr.Invalid(w, dnsLabelRule)
		return
	}
	if a.opts.Provisioning == nil {
		apierr.Invalid(w, "cluster drivers are not enabled on this server")
		return
	}
	c, err := a.opts.Provisioning.Create(r.Context(), provision.CreateRequest{Name: req.Name, Driver: req.Driver, Config: req.Config})
	if err != nil {
		a.provisionError(w, fmt.Sprintf("cluster named %q", req.Name), req.Driver, err)
		return
	}
	a.opts.Logger.Info("cluster created", "cluster", c.ID, "name", c.Name, "driver", req.Driver, "by", identity(r.Context()).Username)
	writeJSON(w, http.StatusCreated, map[string]any{"cluster": a.view(r.Context(), c)})
}

type updateClusterRequest struct {
	Config json.RawMessage `json:"config"`
}

// updateCluster changes a provisioned cluster's config and has the driver
// apply it.
func (a *API) updateCluster(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var req updateClusterRequest
	if !decode(w, r, &req) {
		return
	}
	if a.opts.Provisioning == nil {
		apierr.Invalid(w, "cluster drivers are not enabled on this server")
		return
	}
	if err := a.opts.Provisioning.Update(r.Context(), id, req.Config); err != nil {
		a.provisionError(w, fmt.Sprintf("cluster %q", id), "", err)
		return
	}
	a.acceptedCluster(w, r, id, "cluster update requested")
}

// deleteClusterWithDriver serves DELETE /v3/clusters/{id}: a provisioned
// cluster is removed through its driver first (202; ?force=true deletes one
// whose last operation failed without the driver), any other is deleted
// (deleteCluster).
func (a *API) deleteClusterWithDriver(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if a.opts.Provisioning == nil {
		a.deleteCluster(w, r)
		return
	}
	v, err := a.opts.Provisioning.View(r.Context(), id, true)
	if err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	if v == nil {
		a.deleteCluster(w, r)
		return
	}
	force := r.URL.Query().Get("force") == "true"
	if err := a.opts.Provisioning.Remove(r.Context(), id, force); err != nil {
		a.provisionError(w, fmt.Sprintf("cluster %q", id), "", err)
		return
	}
	if force {
		a.opts.Logger.Info("cluster deleted without its driver", "cluster", id, "by", identity(r.Context()).Username)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.acceptedCluster(w, r, id, "cluster removal requested")
}

func (a *API) acceptedCluster(w http.ResponseWriter, r *http.Request, id, what string) {
	a.opts.Logger.Info(what, "cluster", id, "by", identity(r.Context()).Username)
	c, err := a.opts.Store.Cluster(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	writeJSON(w, http.StatusAccepted, a.view(r.Context(), c))
}

type snapshotRequest struct {
	Name string `json:"name"`
}

func (a *API) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	var req snapshotRequest
	if !decode(w, r, &req) {
		return
	}
	a.snapshot(w, r, provision.SnapshotSave, req.Name, http.StatusCreated)
}

func (a *API) restoreSnapshot(w http.ResponseWriter, r *http.Request) {
	a.snapshot(w, r, provision.SnapshotRestore, mux.Vars(r)["name"], http.StatusOK)
}

func (a *API) removeSnapshot(w http.ResponseWriter, r *http.Request) {
	a.snapshot(w, r, provision.SnapshotRemove, mux.Vars(r)["name"], http.StatusNoContent)
}

// snapshot runs an etcd snapshot call through the cluster's driver and
// waits for it.
func (a *API) snapshot(w http.ResponseWriter, r *http.Request, action, name string, code int) {
	id := mux.Vars(r)["id"]
	if err := sdk.CheckSnapshotName(name); err != nil {
		apierr.Invalid(w, "%s", err)
		return
	}
	if a.opts.Provisioning == nil {
		apierr.Invalid(w, "cluster drivers are not enabled on this server")
		return
	}
	if err := a.opts.Provisioning.Snapshot(r.Context(), id, action, name); err != nil {
		a.provisionError(w, fmt.Sprintf("cluster %q", id), "", err)
		return
	}
	a.opts.Logger.Info("etcd snapshot", "cluster", id, "action", action, "snapshot", name, "by", identity(r.Context()).Username)
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, map[string]string{"name": name, "action": action})
}

// provisionError answers an error of the provisioner. Only admins reach the
// endpoints that call it, so a failed driver call's own words are included.
func (a *API) provisionError(w http.ResponseWriter, what, driverName string, err error) {
	var fe *schema.FieldError
	var de *provision.DriverError
	var oe *provision.OpError
	switch {
	case errors.As(err, &fe):
		apierr.Invalid(w, "%s", fe.Error())
	case errors.Is(err, provision.ErrUnknownDriver):
		apierr.Invalid(w, "driver %q is not registered (GET /v3/drivers lists them)", driverName)
	case errors.Is(err, provision.ErrNotProvisioned):
		apierr.Invalid(w, "%s was imported; only clusters a driver made take a config or etcd snapshots", what)
	case errors.Is(err, provision.ErrBusy):
		apierr.Conflict(w, "%s: %v", what, err)
	case errors.Is(err, driver.ErrUnsandboxed):
		apierr.Conflict(w, "%s", driver.SafeError(err))
	case errors.As(err, &de):
		a.opts.Logger.Warn("cluster driver", "err", de.Err)
		apierr.Unavailable(w, "the cluster's driver is not available: %s", de.Safe)
	case errors.As(err, &oe):
		apierr.BadGateway(w, "%s (the driver said: %s)", oe.Safe, oe.Detail)
	default:
		a.storeError(w, what, err)
	}
}
