package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/sandbox"
	"github.com/drover-dev/drover/pkg/driver/sdk"
	"github.com/drover-dev/drover/pkg/store"
)

// The test binary doubles as the sandbox's helper (when these tests run as
// root) and as a driver: started with a launcher's one argument, it serves
// fakeDriver instead of running tests.
func TestMain(m *testing.M) {
	sandbox.Init()
	if len(os.Args) == 2 && (strings.HasPrefix(os.Args[1], "unix:") || isNumber(os.Args[1])) {
		sdk.NewServer(fakeDriver{}).ServeOrDie(os.Args[1])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func isNumber(s string) bool { _, err := strconv.Atoi(s); return err == nil }

type fakeDriver struct {
	sdk.UnimplementedVersionAccess
	sdk.UnimplementedClusterSizeAccess
	sdk.UnimplementedETCD
	sdk.NoLegacyServiceAccount
	sdk.NoK8SCapabilities
}

func (fakeDriver) GetDriverCreateOptions(context.Context) (*sdk.DriverFlags, error) {
	return &sdk.DriverFlags{Options: map[string]*sdk.Flag{
		"disk-size-gb": {Type: sdk.IntType, Usage: "disk", Default: &sdk.Default{DefaultInt: 100}},
	}}, nil
}

func (fakeDriver) GetDriverUpdateOptions(context.Context) (*sdk.DriverFlags, error) {
	return nil, sdk.ErrNotImplemented
}

// Create reports what the driver process sees: its environment and args.
func (fakeDriver) Create(_ context.Context, o *sdk.DriverOptions, _ *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	return &sdk.ClusterInfo{Metadata: map[string]string{
		"env": strings.Join(os.Environ(), "\n"), "args": strings.Join(os.Args[1:], " "),
		"disk": strconv.FormatInt(sdk.GetInt(o, "disk-size-gb"), 10),
	}}, nil
}

func (fakeDriver) Update(context.Context, *sdk.ClusterInfo, *sdk.DriverOptions) (*sdk.ClusterInfo, error) {
	return nil, errors.New("no updates")
}

func (fakeDriver) PostCheck(_ context.Context, i *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	return i, nil
}
func (fakeDriver) Remove(context.Context, *sdk.ClusterInfo) error             { return nil }
func (fakeDriver) GetCapabilities(context.Context) (*sdk.Capabilities, error) { return nil, nil }

// memStore is an in-memory Store.
type memStore map[string]store.Driver

func (m memStore) CreateDriver(_ context.Context, d store.Driver) error {
	if _, ok := m[d.Name]; ok {
		return store.ErrConflict
	}
	m[d.Name] = d
	return nil
}

func (m memStore) Driver(_ context.Context, name string) (store.Driver, error) {
	d, ok := m[name]
	if !ok {
		return store.Driver{}, store.ErrNotFound
	}
	return d, nil
}

func (m memStore) ListDrivers(context.Context) ([]store.Driver, error) {
	var out []store.Driver
	for _, d := range m {
		out = append(out, d)
	}
	return out, nil
}

func (m memStore) DeleteDriver(_ context.Context, name string) error { delete(m, name); return nil }

// builtinDir holds the test binary as driver-fake and the given scripts.
func builtinDir(t *testing.T, scripts map[string]string) string {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "driver-fake"), b, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newRegistry runs drivers sandboxed when the tests run as root, else as
// the test's user.
func newRegistry(t *testing.T, builtins string, answer time.Duration) *Registry {
	dir := t.TempDir()
	r, err := New(Options{Dir: filepath.Join(dir, "data", "drivers"), StateDir: filepath.Join(dir, "drivers"),
		BuiltinDir: builtins, Store: memStore{}, AllowUnsandboxed: true,
		AnswerTimeout: answer, StopGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDriverLaunchCallStop(t *testing.T) {
	t.Setenv("DROVER_TEST_SECRET", "must-not-reach-the-driver")
	r := newRegistry(t, builtinDir(t, nil), 20*time.Second)
	ctx := context.Background()
	s, err := r.Schema(ctx, "fake")
	if err != nil {
		t.Fatal(err)
	}
	if f := s.Fields["diskSizeGb"]; f.Default != int64(100) || !f.Create || f.Update {
		t.Errorf("schema field = %+v", f)
	}
	c, err := r.Launch(ctx, "fake")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Create(ctx, &driverpb.CreateRequest{DriverOptions: s.Options(map[string]any{"diskSizeGb": int64(7)}, true)})
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(info.Metadata["env"], "\n")
	if len(env) != 3 || !strings.HasPrefix(env[0], "PATH=") || env[1] != "HOME="+filepath.Join(r.opts.StateDir, "home", "fake") ||
		!strings.HasPrefix(env[2], "TMPDIR=") {
		t.Errorf("driver environment = %q", env)
	}
	if !strings.HasPrefix(info.Metadata["args"], "unix:/") || info.Metadata["disk"] != "7" {
		t.Errorf("args %q, disk %q", info.Metadata["args"], info.Metadata["disk"])
	}
	pid := c.PID()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if live := liveInGroup(pid); len(live) > 0 {
		t.Errorf("processes left in the driver's group: %v", live)
	}
	if left, _ := filepath.Glob(filepath.Join(r.opts.StateDir, "run", "*")); len(left) > 0 {
		t.Errorf("run directories left: %v", left)
	}
	if got := s.Driver; got != "fake" {
		t.Errorf("schema of %q", got)
	}
	info2, err := r.Get(ctx, "fake")
	if err != nil || info2.Sandboxed != (os.Geteuid() == 0) {
		t.Errorf("Get = %+v, %v; want sandboxed exactly when root", info2, err)
	}
}

func TestDriverChecksumMismatchRefused(t *testing.T) {
	dir := builtinDir(t, nil)
	r := newRegistry(t, dir, 10*time.Second)
	// The file changes after the server recorded its checksum.
	if err := os.WriteFile(filepath.Join(dir, "driver-fake"), []byte("#!/bin/sh\necho pwned > /dev/null\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := r.Launch(context.Background(), "fake")
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "refusing to run it") {
		t.Fatalf("Launch of a changed binary: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(r.opts.StateDir, "run", "*")); len(left) > 0 {
		t.Errorf("run directories left: %v", left)
	}
}

// A driver that never answers and ignores SIGTERM, with a child in its
// group: the launcher gives up within the bound with a clear error and
// leaves no process behind.
func TestDriverThatNeverAnswers(t *testing.T) {
	hang := "#!/bin/sh\ntrap '' TERM\nsleep 300 &\necho $$ > \"$HOME/pid\"\nsleep 300\n"
	r := newRegistry(t, builtinDir(t, map[string]string{"driver-hang": hang}), time.Second)
	start := time.Now()
	_, err := r.Launch(context.Background(), "hang")
	took := time.Since(start)
	if err == nil || err.Error() != `driver "hang" did not answer within 1s` || !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Launch: %v", err)
	}
	if SafeError(err) != `driver "hang" did not answer within 1s` {
		t.Errorf("SafeError = %q", SafeError(err))
	}
	if took > 5*time.Second {
		t.Errorf("Launch took %s, want about 1s + grace", took)
	}
	b, err := os.ReadFile(filepath.Join(r.opts.StateDir, "home", "hang", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if live := liveInGroup(pid); len(live) > 0 {
		t.Errorf("processes left in the driver's group: %v", live)
	}
}

func TestDriverInstall(t *testing.T) {
	self, _ := os.Executable()
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	good := hex.EncodeToString(sum[:])
	mux := http.NewServeMux()
	var served atomic.Value
	served.Store(bin)
	mux.HandleFunc("/driver", func(w http.ResponseWriter, r *http.Request) { w.Write(served.Load().([]byte)) })
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.invalid/driver", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := newRegistry(t, "", 20*time.Second)
	ctx := context.Background()

	for _, tt := range []struct {
		q    InstallRequest
		want string
	}{
		{InstallRequest{Name: "x", URL: srv.URL + "/driver", Checksum: strings.Repeat("0", 64)}, "checksum: checksum mismatch: the file at the URL has sha256 " + good},
		{InstallRequest{Name: "x", URL: srv.URL + "/driver"}, "checksum: is required for an http URL"},
		{InstallRequest{Name: "x", URL: srv.URL + "/driver", Checksum: good[1:]}, "checksum: must be 64 hex characters (a SHA-256), not 63"},
		{InstallRequest{Name: "x", URL: srv.URL + "/driver", Checksum: "g" + good[1:]}, "checksum: must be 64 hex characters (a SHA-256): character 1 is not a hex digit"},
		{InstallRequest{Name: "x", URL: "file:///bin/sh", Checksum: good}, "url: must be an http or https URL"},
		{InstallRequest{Name: "X y", URL: srv.URL, Checksum: good}, "name: must be a DNS label"},
		{InstallRequest{Name: "x", URL: srv.URL + "/missing", Checksum: good}, "url: download failed: 404 Not Found"},
		{InstallRequest{Name: "x", URL: srv.URL + "/elsewhere", Checksum: good}, "url: download failed: redirect refused"},
	} {
		_, err := r.Install(ctx, tt.q)
		var ie *InstallError
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Install(%+v) = %v, want %q", tt.q, err, tt.want)
		}
	}
	if bins, _ := os.ReadDir(filepath.Join(r.opts.Dir, "bin")); len(bins) != 0 {
		t.Errorf("refused installs left files: %v", bins)
	}
	// Any case, and surrounding white space, as sha256sum prints it.
	mixed := strings.ToUpper(good[:32]) + good[32:] + "\n"
	info, err := r.Install(ctx, InstallRequest{Name: "fake2", URL: srv.URL + "/driver", Checksum: mixed, Address: AddressUnix})
	if err != nil {
		t.Fatal(err)
	}
	if info.Checksum != good || info.Builtin {
		t.Errorf("installed %+v", info)
	}
	if _, err := r.Install(ctx, InstallRequest{Name: "fake2", URL: srv.URL + "/driver", Checksum: good}); !errors.Is(err, ErrExists) {
		t.Errorf("second install: %v", err)
	}
	if _, err := r.Schema(ctx, "fake2"); err != nil {
		t.Fatal(err)
	}
	// A server replica that did not install it fetches it, checked
	// against the checksum recorded at install.
	path := filepath.Join(r.opts.Dir, "bin", "fake2")
	os.Remove(path)
	r.schemas = map[string]cachedSchema{}
	served.Store(append(bin[:len(bin):len(bin)], 0))
	if _, err := r.Schema(ctx, "fake2"); !errors.Is(err, ErrChecksum) {
		t.Errorf("a changed file at the URL: %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the refused file was kept: %v", err)
	}
	served.Store(bin)
	if _, err := r.Schema(ctx, "fake2"); err != nil {
		t.Fatalf("fetched again: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the fetched binary: %v", err)
	}
	if err := r.Delete(ctx, "fake2"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Launch(ctx, "fake2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("launch after delete: %v", err)
	}
}

// liveInGroup lists the processes of group pgid that are not zombies (the
// sandbox's pid 1 may not reap orphans, and a zombie runs nothing).
func liveInGroup(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// A kontainer-engine driver is told a bare port on 127.0.0.1 (sandboxed
// too: it shares the host's loopback).
func TestDriverPortAddress(t *testing.T) {
	dir := builtinDir(t, nil)
	if err := os.Rename(filepath.Join(dir, "driver-fake"), filepath.Join(dir, "kontainer-engine-driver-fake")); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, dir, 20*time.Second)
	ctx := context.Background()
	c, err := r.Launch(ctx, "fake")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Create(ctx, &driverpb.CreateRequest{DriverOptions: &driverpb.DriverOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	if !isNumber(info.Metadata["args"]) {
		t.Errorf("args %q, want a port", info.Metadata["args"])
	}
}
