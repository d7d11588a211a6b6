package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/schema"
	"github.com/drover-dev/drover/pkg/driver/sdk"
	"github.com/drover-dev/drover/pkg/provision"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/store"
)

// fakeDrivers has one driver, "fake"; its calls are never made here (the
// controller does not run in these tests).
type fakeDrivers struct{ s schema.Schema }

// "unsafe" is a driver the server refuses to run unsandboxed.
func (f fakeDrivers) List(context.Context) ([]driver.Info, error) {
	return []driver.Info{{Name: "fake", Builtin: true, Address: driver.AddressUnix, Sandboxed: true},
		{Name: "unsafe", Builtin: true, Address: driver.AddressUnix}}, nil
}

func (f fakeDrivers) Get(_ context.Context, name string) (driver.Info, error) {
	switch name {
	case "fake":
		return driver.Info{Name: "fake", Sandboxed: true}, nil
	case "unsafe":
		return driver.Info{Name: "unsafe"}, nil
	}
	return driver.Info{}, driver.ErrNotFound
}

func (f fakeDrivers) Install(_ context.Context, q driver.InstallRequest) (driver.Info, error) {
	if q.Name == "unsafe" {
		return driver.Info{}, fmt.Errorf("driver %q: %w", q.Name, driver.ErrUnsandboxed)
	}
	return driver.Info{}, &driver.InstallError{Field: "checksum", Msg: "checksum mismatch: refusing it", Err: driver.ErrChecksum}
}

func (f fakeDrivers) Delete(context.Context, string) error { return driver.ErrBuiltin }

func (f fakeDrivers) Schema(_ context.Context, name string) (schema.Schema, error) {
	if name == "unsafe" {
		return schema.Schema{}, fmt.Errorf("driver %q: %w", name, driver.ErrUnsandboxed)
	}
	if name != "fake" {
		return schema.Schema{}, driver.ErrNotFound
	}
	return f.s, nil
}

func (f fakeDrivers) Call(context.Context, string, func(context.Context, driverpb.DriverClient) error) error {
	return driver.ErrNoAnswer
}

func newDriverFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := schema.FromFlags("fake", &driverpb.DriverFlags{Options: map[string]*driverpb.Flag{
		"disk-size-gb": {Type: sdk.IntType, Usage: "Size of the disk attached to each node", Default: &driverpb.Default{DefaultInt: 100}},
		"api-key":      {Type: sdk.StringType, Password: true},
	}}, &driverpb.DriverFlags{Options: map[string]*driverpb.Flag{"disk-size-gb": {Type: sdk.IntType}}})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(make([]byte, seal.KeySize))
	log := slog.New(slog.DiscardHandler)
	drivers := fakeDrivers{s: s}
	ctrl := provision.New(provision.Options{Store: st, Drivers: drivers, Sealer: sealer, Tunnels: noTunnel{}, Logger: log})
	auth := authn.New(authn.Options{Store: st, Logger: log})
	t.Cleanup(auth.Wait)
	lp := testLocal(t, st, time.Now)
	a := New(Options{
		Local: lp,
		Store: st, Tokens: auth, Tunnel: noTunnel{}, CAPEM: []byte("CA"), CASum: "sum",
		ServerURL: "https://drover.test", Logger: log,
		SessionTTL: time.Hour, KubeconfigTTL: 24 * time.Hour, MaxTokenTTL: 48 * time.Hour,
		Drivers: drivers, Provisioning: ctrl,
	})
	// The real composition of the request path, without the proxy.
	r := chain.NewHandler(chain.Handlers{Logger: log, Auth: auth, API: a})
	f := &fixture{srv: httptest.NewServer(r), st: st, local: lp}
	t.Cleanup(f.srv.Close)
	f.createUser(t, "root", true)
	f.createUser(t, "carol", false)
	f.admin = f.login(t, "root")
	f.user = f.login(t, "carol")
	return f
}

func TestDriverAPI(t *testing.T) {
	f := newDriverFixture(t)
	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prov","driver":"fake","config":{"diskSizeGb":20,"apiKey":"hunter2"}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct{ Cluster struct{ ID string } }
	json.Unmarshal([]byte(body), &created)
	id := created.Cluster.ID
	code, body = f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"imported"}`)
	if code != 201 || !strings.Contains(body, `"registration"`) {
		t.Fatalf("import flow: %d %s", code, body)
	}
	var imported struct{ Cluster struct{ ID string } }
	json.Unmarshal([]byte(body), &imported)
	// Non-admins see only clusters they are members of.
	if code, body := f.do(t, "POST", "/v3/bindings", f.admin, `{"scope":"cluster","clusterId":"`+id+
		`","role":"cluster-member","subjectKind":"user","subject":"carol"}`); code != 201 {
		t.Fatalf("bind carol: %d %s", code, body)
	}

	tests := []struct {
		name, method, path, bearer, body string
		code                             int
		contains, absent                 string
	}{
		{"list drivers", "GET", "/v3/drivers", f.user, "", 200, `"name": "fake"`, ""},
		{"a sandboxed driver", "GET", "/v3/drivers/fake", f.admin, "", 200, `"sandboxed": true`, ""},
		{"an unsandboxed driver", "GET", "/v3/drivers/unsafe", f.admin, "", 200, `"sandboxed": false`, ""},
		{"schema of a refused driver", "GET", "/v3/drivers/unsafe/schema", f.admin, "", 409, "--allow-unsandboxed-drivers", ""},
		{"install refused", "POST", "/v3/drivers", f.admin, `{"name":"unsafe","url":"https://x/y"}`, 409, "--allow-unsandboxed-drivers", ""},
		{"provisioning refused", "POST", "/v3/clusters", f.admin, `{"name":"a","driver":"unsafe"}`, 409, "--allow-unsandboxed-drivers", ""},
		{"schema", "GET", "/v3/drivers/fake/schema", f.user, "", 200, `"diskSizeGb": {
      "type": "int",
      "default": 100,
      "description": "Size of the disk attached to each node",
      "create": true,
      "update": true,`, ""},
		{"no such driver's schema", "GET", "/v3/drivers/nope/schema", f.user, "", 404, `driver \"nope\" not found`, ""},
		{"install with a bad checksum", "POST", "/v3/drivers", f.admin, `{"name":"x","url":"https://x/y","checksum":"00"}`, 422, "checksum: checksum mismatch", ""},
		{"install as user", "POST", "/v3/drivers", f.user, `{"name":"x","url":"https://x/y"}`, 403, "only Drover admins", ""},
		{"delete a built-in driver", "DELETE", "/v3/drivers/fake", f.admin, "", 409, "built in", ""},
		{"wrong type", "POST", "/v3/clusters", f.admin, `{"name":"a","driver":"fake","config":{"diskSizeGb":"big"}}`, 422, `config.diskSizeGb must be a whole number`, ""},
		{"unknown field", "POST", "/v3/clusters", f.admin, `{"name":"a","driver":"fake","config":{"diskSize":1}}`, 422, `config.diskSize is not a field of the \"fake\" driver's config (it has: apiKey, diskSizeGb)`, ""},
		{"password value never echoed", "POST", "/v3/clusters", f.admin, `{"name":"a","driver":"fake","config":{"apiKey":["s3cr3t-value"]}}`, 422, "config.apiKey must be a string", "s3cr3t-value"},
		{"unknown driver", "POST", "/v3/clusters", f.admin, `{"name":"a","driver":"gke"}`, 422, `driver \"gke\" is not registered`, ""},
		{"config without driver", "POST", "/v3/clusters", f.admin, `{"name":"a","config":{}}`, 422, "config needs a driver", ""},
		{"bad name", "POST", "/v3/clusters", f.admin, `{"name":"A B","driver":"fake"}`, 422, "DNS label", ""},
		{"create as user", "POST", "/v3/clusters", f.user, `{"name":"a","driver":"fake"}`, 403, "only Drover admins", ""},
		{"unknown top-level field", "POST", "/v3/clusters", f.admin, `{"name":"a","driverr":"fake"}`, 400, "unknown field", ""},
		{"admin view", "GET", "/v3/clusters/" + id, f.admin, "", 200, `"diskSizeGb": 20`, "hunter2"},
		{"user view", "GET", "/v3/clusters/" + id, f.user, "", 200, `"phase": "provisioning"`, "diskSizeGb"},
		{"update a create-only field", "PUT", "/v3/clusters/" + id, f.admin, `{"config":{"apiKey":"other"}}`, 409, "in progress", ""},
		{"update an imported cluster", "PUT", "/v3/clusters/" + imported.Cluster.ID, f.admin, `{"config":{}}`, 422, "was imported", ""},
		{"snapshot an imported cluster", "POST", "/v3/clusters/" + imported.Cluster.ID + "/etcd-snapshots", f.admin, `{"name":"s1"}`, 422, "was imported", ""},
		{"bad snapshot name", "POST", "/v3/clusters/" + id + "/etcd-snapshots", f.admin, `{"name":"../x"}`, 422, "name must be", ""},
		{"snapshot while busy", "POST", "/v3/clusters/" + id + "/etcd-snapshots", f.admin, `{"name":"s1"}`, 409, "in progress", ""},
		{"force delete while busy", "DELETE", "/v3/clusters/" + id + "?force=true", f.admin, "", 409, "force only deletes", ""},
		{"delete a provisioned cluster", "DELETE", "/v3/clusters/" + id, f.admin, "", 202, `"phase": "removing"`, ""},
		{"delete an imported cluster", "DELETE", "/v3/clusters/" + imported.Cluster.ID, f.admin, "", 204, "", ""},
	}
	for _, tt := range tests {
		code, body := f.do(t, tt.method, tt.path, tt.bearer, tt.body)
		if code != tt.code || !strings.Contains(body, tt.contains) || (tt.absent != "" && strings.Contains(body, tt.absent)) {
			t.Errorf("%s: %d %s\nwant %d containing %q", tt.name, code, body, tt.code, tt.contains)
		}
		if code >= 400 && !strings.Contains(body, `"kind":"Status"`) {
			t.Errorf("%s: error is not a Status: %s", tt.name, body)
		}
	}
}
