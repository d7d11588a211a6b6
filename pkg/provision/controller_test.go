package provision

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/schema"
	"github.com/drover-dev/drover/pkg/driver/sdk"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// fake is a driver served in process over a real gRPC connection.
type fake struct {
	sdk.UnimplementedVersionAccess
	sdk.UnimplementedClusterSizeAccess
	sdk.NoLegacyServiceAccount
	sdk.NoK8SCapabilities

	caB64 string
	mu    sync.Mutex
	calls []string
	fail  string // a call name that fails
	opts  *sdk.DriverOptions
}

func (f *fake) record(call string, o *sdk.DriverOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if o != nil {
		f.opts = o
	}
	if f.fail == call {
		return errors.New("boom: quota exceeded for account secret-acct-42")
	}
	return nil
}

func (f *fake) GetDriverCreateOptions(context.Context) (*sdk.DriverFlags, error) {
	return &sdk.DriverFlags{Options: map[string]*sdk.Flag{
		"node-count": {Type: sdk.IntType, Default: &sdk.Default{DefaultInt: 1}},
		"api-key":    {Type: sdk.StringType, Password: true},
	}}, nil
}

func (f *fake) GetDriverUpdateOptions(context.Context) (*sdk.DriverFlags, error) {
	return &sdk.DriverFlags{Options: map[string]*sdk.Flag{"node-count": {Type: sdk.IntType}}}, nil
}

func (f *fake) Create(_ context.Context, o *sdk.DriverOptions, in *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	if err := f.record("Create", o); err != nil {
		return nil, err
	}
	return &sdk.ClusterInfo{Endpoint: "127.0.0.1:6443", RootCaCertificate: f.caB64, Metadata: map[string]string{"id": sdk.GetString(o, "name")}}, nil
}

func (f *fake) Update(_ context.Context, in *sdk.ClusterInfo, o *sdk.DriverOptions) (*sdk.ClusterInfo, error) {
	return in, f.record("Update", o)
}

func (f *fake) PostCheck(_ context.Context, in *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	in.ServiceAccountToken = "sa-token-for-" + in.Metadata["id"]
	return in, f.record("PostCheck", nil)
}

func (f *fake) Remove(context.Context, *sdk.ClusterInfo) error { return f.record("Remove", nil) }

func (f *fake) GetCapabilities(context.Context) (*sdk.Capabilities, error) { return nil, nil }

func (f *fake) ETCDSave(_ context.Context, _ *sdk.ClusterInfo, _ *sdk.DriverOptions, name string) error {
	return f.record("ETCDSave "+name, nil)
}

func (f *fake) ETCDRestore(_ context.Context, in *sdk.ClusterInfo, _ *sdk.DriverOptions, name string) (*sdk.ClusterInfo, error) {
	return in, f.record("ETCDRestore "+name, nil)
}

func (f *fake) ETCDRemoveSnapshot(context.Context, *sdk.ClusterInfo, *sdk.DriverOptions, string) error {
	return sdk.ErrNotImplemented
}

func (f *fake) callList() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

// inProcess serves the fake as a built-in driver named "fake".
type inProcess struct {
	client driverpb.DriverClient
	schema schema.Schema
}

func (d *inProcess) Schema(_ context.Context, name string) (schema.Schema, error) {
	if name != "fake" {
		return schema.Schema{}, driver.ErrNotFound
	}
	return d.schema, nil
}

func (d *inProcess) Call(ctx context.Context, _ string, fn func(context.Context, driverpb.DriverClient) error) error {
	return fn(ctx, d.client)
}

type applied struct {
	mu   sync.Mutex
	cfg  *rest.Config
	yaml []byte
}

func (a *applied) Apply(_ context.Context, cfg *rest.Config, m []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfg, a.yaml = cfg, m
	return nil
}

type tunnels struct{ connected sync.Map }

func (t *tunnels) Status(id string) tunnel.Status {
	_, ok := t.connected.Load(id)
	return tunnel.Status{Connected: ok}
}

type env struct {
	st   *store.Store
	f    *fake
	app  *applied
	tun  *tunnels
	ctrl *Controller
}

func newEnv(t *testing.T) *env {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "drover.db"))
	if err != nil {
		t.Fatal(err)
	}
	tls := httptest.NewTLSServer(nil)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw})
	tls.Close()
	f := &fake{caB64: base64.StdEncoding.EncodeToString(ca)}
	ln, err := net.Listen("unix", filepath.Join(dir, "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan struct{})
	go func() { sdk.NewServer(f).Serve(ctx, ln); close(srvDone) }()
	conn, err := grpc.NewClient("unix://"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := f.GetDriverCreateOptions(ctx)
	uf, _ := f.GetDriverUpdateOptions(ctx)
	s, err := schema.FromFlags("fake", cf, uf)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, f: f, app: &applied{}, tun: &tunnels{}}
	e.ctrl = New(Options{Store: st, Drivers: &inProcess{client: driverpb.NewDriverClient(conn), schema: s}, Sealer: sealer,
		Tunnels: e.tun, Applier: e.app, ServerURL: "https://drover.test", CAChecksum: strings.Repeat("a", 64),
		AgentImage: "drover-agent:test", Resync: 20 * time.Millisecond, CallTimeout: 10 * time.Second})
	runDone := make(chan struct{})
	go func() { e.ctrl.Run(ctx); close(runDone) }()
	t.Cleanup(func() { cancel(); <-runDone; <-srvDone; conn.Close(); st.Close() })
	return e
}

func (e *env) waitPhase(t *testing.T, id, phase string) *View {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := e.ctrl.View(context.Background(), id, true)
		if err == nil && v != nil && v.Phase == phase {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s: phase %+v (err %v), want %s; driver calls %s", id, v, err, phase, e.f.callList())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProvisionFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	_, err := e.ctrl.Create(ctx, CreateRequest{Name: "p", Driver: "fake", Config: json.RawMessage(`{"nodeCount":"3"}`)})
	var fe *schema.FieldError
	if !errors.As(err, &fe) || fe.Field != "nodeCount" {
		t.Fatalf("wrong type: %v", err)
	}
	if _, err := e.ctrl.Create(ctx, CreateRequest{Name: "p", Driver: "nope"}); !errors.Is(err, ErrUnknownDriver) {
		t.Fatalf("unknown driver: %v", err)
	}
	cl, err := e.ctrl.Create(ctx, CreateRequest{Name: "p", Driver: "fake", Config: json.RawMessage(`{"nodeCount":3,"apiKey":"hunter2-key"}`)})
	if err != nil {
		t.Fatal(err)
	}
	v := e.waitPhase(t, cl.ID, PhaseWaiting)
	if got := e.f.callList(); got != "Create,PostCheck" {
		t.Errorf("calls = %s", got)
	}
	if _, ok := v.Config["apiKey"]; ok || v.Config["nodeCount"] != float64(3) {
		t.Errorf("admin view config = %v", v.Config)
	}
	if e.f.opts.StringOptions["name"] != cl.ID || e.f.opts.StringOptions["api-key"] != "hunter2-key" || e.f.opts.IntOptions["node-count"] != 3 {
		t.Errorf("driver options = %v", e.f.opts)
	}
	e.app.mu.Lock()
	if e.app.cfg.BearerToken != "sa-token-for-"+cl.ID || e.app.cfg.Host != "https://127.0.0.1:6443" ||
		!bytes.Contains(e.app.yaml, []byte("kind: Deployment")) {
		t.Errorf("applied with %s to %s", e.app.cfg.BearerToken, e.app.cfg.Host)
	}
	e.app.mu.Unlock()
	// Nothing readable at rest.
	p, _ := e.st.Provisioning(ctx, cl.ID)
	for _, secret := range []string{"sa-token-for-", "hunter2-key", "127.0.0.1:6443"} {
		if bytes.Contains(p.Info, []byte(secret)) || bytes.Contains(p.Config, []byte(secret)) {
			t.Errorf("%q is stored in the clear", secret)
		}
	}

	e.tun.connected.Store(cl.ID, true)
	e.waitPhase(t, cl.ID, PhaseActive)

	if err := e.ctrl.Snapshot(ctx, cl.ID, SnapshotSave, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := e.ctrl.Snapshot(ctx, cl.ID, SnapshotRemove, "s1"); err == nil ||
		err.Error() != "etcd snapshot remove failed: the driver does not implement this" {
		t.Errorf("unimplemented snapshot call: %v", err)
	}

	if err := e.ctrl.Update(ctx, cl.ID, json.RawMessage(`{"apiKey":"other"}`)); !errors.As(err, &fe) || fe.Field != "apiKey" {
		t.Errorf("update of a create-only field: %v", err)
	}
	if err := e.ctrl.Update(ctx, cl.ID, json.RawMessage(`{"nodeCount":5}`)); err != nil {
		t.Fatal(err)
	}
	e.waitPhase(t, cl.ID, PhaseActive)
	if e.f.opts.IntOptions["node-count"] != 5 || !strings.Contains(e.f.callList(), "Update,PostCheck") {
		t.Errorf("update: calls %s, options %v", e.f.callList(), e.f.opts)
	}

	if err := e.ctrl.Remove(ctx, cl.ID, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.st.Cluster(ctx, cl.ID); errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster was not removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasSuffix(e.f.callList(), "Remove") {
		t.Errorf("calls = %s", e.f.callList())
	}
}

func TestProvisionFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.f.fail = "Create"
	cl, err := e.ctrl.Create(ctx, CreateRequest{Name: "f", Driver: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	v := e.waitPhase(t, cl.ID, PhaseError)
	if !strings.Contains(v.Error, "secret-acct-42") {
		t.Errorf("admins do not see the cause: %+v", v)
	}
	user, err := e.ctrl.View(ctx, cl.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if user.Message != "Create failed: the driver reported an error" || user.Error != "" || user.Config != nil {
		t.Errorf("non-admin view = %+v", user)
	}
	if err := e.ctrl.Remove(ctx, "c-none", false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("remove of a missing cluster: %v", err)
	}
	// Retrying (an update of a cluster whose create failed) creates again.
	e.f.mu.Lock()
	e.f.fail = ""
	e.f.mu.Unlock()
	if err := e.ctrl.Update(ctx, cl.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.waitPhase(t, cl.ID, PhaseWaiting)
	if got := e.f.callList(); got != "Create,Create,PostCheck" {
		t.Errorf("calls = %s", got)
	}
}
