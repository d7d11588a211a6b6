package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/drover-dev/drover/test/browser"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// fixture is shared by the tests of this package: one downstream cluster,
// one server with its cluster agent, one browser trusting the server's CA,
// and the admin's page, logged in once.
type fixture struct {
	dir         string
	bins        harness.Binaries
	cluster     *testbed.Cluster
	direct      string // a kubeconfig reaching cluster directly, as its admin
	server      *harness.Server
	agent       *harness.Process
	adminToken  string
	clusterID   string
	clusterName string
	browser     *browser.Browser
	// importBed is a second, empty downstream cluster for TestImport: an
	// agent of another Drover cluster must not share cluster's apiserver
	// (each cluster's controller owns the Drover-labelled RBAC it finds).
	importBed    *testbed.Cluster
	importDirect string
	// testbedDir holds the test bed's etcd and kube-apiserver, which the
	// local driver of TestDriverProvisioning runs.
	testbedDir string
	// sites is the CA of the other origins TestCSRF serves pages from;
	// the browser trusts it beside the server's.
	sites *certAuthority

	mu        sync.Mutex
	admin     *browser.Page
	imported  []*harness.Process // agents TestImport started
	nameSeq   map[string]int
	setupTook []string
}

// The fixture starts with the first test that asks for it (none does when
// the browser or the console is missing, or -run picks none), once.
var (
	setupOnce sync.Once
	shared    *fixture
	setupErr  error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	code := m.Run()
	if shared == nil {
		return code
	}
	if err := shared.teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "console teardown:", err)
		code = 1
	}
	// The browser's and chromedp's goroutines must be gone too.
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "console: goroutines left:", err)
		code = 1
	}
	if code == 0 && setupErr == nil {
		os.RemoveAll(shared.dir)
	} else {
		fmt.Fprintln(os.Stderr, "logs and screenshots kept in", shared.dir)
	}
	return code
}

// env returns the shared fixture, starting it on first use; it skips t
// when the browser or the console is missing (fails it when
// DROVER_REQUIRE_BROWSER is set).
func env(t *testing.T) *fixture {
	t.Helper()
	browser.RequireChromium(t)
	browser.RequireConsole(t)
	setupOnce.Do(func() {
		start := time.Now()
		shared, setupErr = setup()
		t.Logf("fixture started in %v (%s)", time.Since(start).Round(time.Millisecond), strings.Join(shared.setupTook, ", "))
	})
	if setupErr != nil {
		t.Fatalf("console fixture: %v", setupErr)
	}
	return shared
}

func setup() (*fixture, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "drover-console-")
	if err != nil {
		return &fixture{}, err
	}
	f := &fixture{dir: dir, clusterName: "console"}
	phase := time.Now()
	took := func(what string) {
		f.setupTook = append(f.setupTook, fmt.Sprintf("%s %v", what, time.Since(phase).Round(time.Millisecond)))
		phase = time.Now()
	}
	if f.sites, err = newCA("console test sites"); err != nil {
		return f, err
	}
	// The build and both clusters at once: none needs another.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { f.bins, errs[0] = harness.Build(ctx, filepath.Join(dir, "bin"), raceEnabled) })
	wg.Go(func() {
		f.cluster, errs[1] = testbed.Start(ctx, testbed.Options{Name: "console", Logger: slog.New(slog.DiscardHandler)})
	})
	wg.Go(func() {
		f.importBed, errs[2] = testbed.Start(ctx, testbed.Options{Name: "imported", Logger: slog.New(slog.DiscardHandler)})
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return f, err
	}
	took("build and clusters")
	f.direct = filepath.Join(dir, "direct-kubeconfig")
	if err = f.cluster.WriteKubeconfig(f.direct); err != nil {
		return f, err
	}
	bins, err := testbed.FindBinaries()
	if err != nil {
		return f, err
	}
	f.testbedDir = filepath.Dir(bins.APIServer)
	f.importDirect = filepath.Join(dir, "import-kubeconfig")
	if err = f.importBed.WriteKubeconfig(f.importDirect); err != nil {
		return f, err
	}
	if f.server, err = harness.StartServer(ctx, harness.ServerOptions{Bin: f.bins.Server, DataDir: filepath.Join(dir, "server"),
		Args: serverArgs(dir, f.testbedDir)}); err != nil {
		return f, err
	}
	took("server")
	// The browser starts while the agent connects.
	var browserErr error
	wg.Go(func() {
		f.browser, browserErr = browser.Start(ctx, browser.Options{
			CAPEM: append(append([]byte{}, f.server.CAPEM...), f.sites.pem...),
			Dir:   filepath.Join(dir, "browser"),
		})
	})
	defer wg.Wait()
	if f.adminToken, err = f.server.Login(ctx, "admin", f.server.AdminPassword); err != nil {
		return f, fmt.Errorf("admin login: %w", err)
	}
	var reg harness.Registration
	if f.clusterID, reg, err = f.server.CreateCluster(ctx, f.adminToken, f.clusterName); err != nil {
		return f, err
	}
	if f.agent, err = harness.StartAgent(harness.AgentOptions{
		Bin: f.bins.Agent, Dir: filepath.Join(dir, "agent"), ServerURL: f.server.URL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: f.direct, Kind: "cluster",
	}); err != nil {
		return f, err
	}
	if err = f.server.WaitConnected(ctx, f.adminToken, f.clusterID, "cluster"); err != nil {
		return f, err
	}
	took("agent")
	wg.Wait()
	took("browser")
	return f, browserErr
}

// serverArgs are the server's flags: an audit log TestAudit reads, and
// what TestDriverProvisioning's local driver needs: the test bed's etcd and
// kube-apiserver shared with the sandboxed driver (the server runs drivers
// sandboxed when it is root, else only when allowed to run them as its own
// user).
func serverArgs(dir, testbedDir string) []string {
	args := []string{"--audit-log", filepath.Join(dir, "audit.log"), "--driver-share", testbedDir}
	if os.Geteuid() != 0 {
		args = append(args, "--allow-unsandboxed-drivers")
	}
	return args
}

func (f *fixture) teardown() error {
	var errs []string
	if f.browser != nil {
		if err := f.browser.Close(); err != nil {
			errs = append(errs, err.Error())
		}
		if left := f.browser.Leftovers(); len(left) > 0 {
			errs = append(errs, fmt.Sprintf("browser processes left: %v", left))
		}
	}
	for _, a := range f.imported {
		a.Stop(5 * time.Second)
	}
	if f.agent != nil {
		f.agent.Stop(5 * time.Second)
	}
	if f.server != nil {
		f.server.Stop(10 * time.Second)
	}
	for _, c := range []*testbed.Cluster{f.cluster, f.importBed} {
		if c != nil {
			c.Stop()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// page opens a page for t (its own browser context, so its own cookies):
// t fails on any console error or CSP violation of the page, and a failed
// t leaves a screenshot of it in the fixture's directory.
func (f *fixture) page(t *testing.T) *browser.Page {
	t.Helper()
	p := f.browser.PageT(t)
	t.Cleanup(func() { f.failureShot(t, p) })
	return p
}

// adminPage is the admin's page, shared by the tests that act as the
// admin: it logs in through #/login once (the server allows a user ten
// password logins a minute from one address, and logging in is
// TestLoginClustersLogout's subject). t fails on the problems the page has
// while t runs.
func (f *fixture) adminPage(t *testing.T) *browser.Page {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.admin == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := f.browser.NewPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.loginPage(ctx, p, "admin", f.server.AdminPassword); err != nil {
			p.Close()
			t.Fatalf("the admin's page: %v", err)
		}
		f.admin = p
	}
	p := f.admin
	seen := len(p.Problems())
	t.Cleanup(func() {
		for _, pr := range p.Problems()[seen:] {
			t.Errorf("page problem: %s", pr)
		}
		f.failureShot(t, p)
	})
	return p
}

// failureShot leaves a screenshot of p in the fixture's directory when t
// failed.
func (f *fixture) failureShot(t *testing.T, p *browser.Page) {
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if path, err := p.Screenshot(ctx, filepath.Join(f.dir, "screenshots"), name); err == nil {
		t.Logf("screenshot: %s", path)
	}
}

// EnvScreenshots names the directory the main pages' screenshots go to
// (TestAccessibility takes them); a relative path is taken from the
// repository's root. Unset: a temporary directory.
const EnvScreenshots = "DROVER_SCREENSHOTS_DIR"

func screenshotDir(t *testing.T) string {
	d := os.Getenv(EnvScreenshots)
	if d == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join(harness.RepoRoot(), d)
	}
	return d
}

// uniqueName returns prefix, then prefix-2, prefix-3... on later calls in
// the same process (go test -count=2 reuses the fixture).
func (f *fixture) uniqueName(prefix string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nameSeq == nil {
		f.nameSeq = map[string]int{}
	}
	f.nameSeq[prefix]++
	if n := f.nameSeq[prefix]; n > 1 {
		return fmt.Sprintf("%s-%d", prefix, n)
	}
	return prefix
}

// url is the console's address for a hash route ("#/clusters").
func (f *fixture) url(route string) string { return f.server.URL + "/" + route }
