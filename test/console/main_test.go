package console

import (
	"context"
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
// one server with its cluster agent, one browser trusting the server's CA.
type fixture struct {
	dir         string
	bins        harness.Binaries
	cluster     *testbed.Cluster
	server      *harness.Server
	agent       *harness.Process
	adminToken  string
	clusterID   string
	clusterName string
	browser     *browser.Browser
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
		t.Logf("fixture started in %v", time.Since(start).Round(time.Millisecond))
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
		return nil, err
	}
	f := &fixture{dir: dir, clusterName: "console"}
	if f.bins, err = harness.Build(ctx, filepath.Join(dir, "bin"), raceEnabled); err != nil {
		return f, err
	}
	if f.cluster, err = testbed.Start(ctx, testbed.Options{Name: "console", Logger: slog.New(slog.DiscardHandler)}); err != nil {
		return f, err
	}
	kubeconfig := filepath.Join(dir, "direct-kubeconfig")
	if err = f.cluster.WriteKubeconfig(kubeconfig); err != nil {
		return f, err
	}
	if f.server, err = harness.StartServer(ctx, harness.ServerOptions{Bin: f.bins.Server, DataDir: filepath.Join(dir, "server"),
		Args: []string{"--audit-log", filepath.Join(dir, "audit.log")}}); err != nil {
		return f, err
	}
	if f.adminToken, err = f.server.Login(ctx, "admin", f.server.AdminPassword); err != nil {
		return f, fmt.Errorf("admin login: %w", err)
	}
	var reg harness.Registration
	if f.clusterID, reg, err = f.server.CreateCluster(ctx, f.adminToken, f.clusterName); err != nil {
		return f, err
	}
	if f.agent, err = harness.StartAgent(harness.AgentOptions{
		Bin: f.bins.Agent, Dir: filepath.Join(dir, "agent"), ServerURL: f.server.URL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: kubeconfig, Kind: "cluster",
	}); err != nil {
		return f, err
	}
	if err = f.server.WaitConnected(ctx, f.adminToken, f.clusterID, "cluster"); err != nil {
		return f, err
	}
	if f.browser, err = browser.Start(ctx, browser.Options{CAPEM: f.server.CAPEM, Dir: filepath.Join(dir, "browser")}); err != nil {
		return f, err
	}
	return f, nil
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
	if f.agent != nil {
		f.agent.Stop(5 * time.Second)
	}
	if f.server != nil {
		f.server.Stop(10 * time.Second)
	}
	if f.cluster != nil {
		f.cluster.Stop()
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
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		if path, err := p.Screenshot(ctx, filepath.Join(f.dir, "screenshots"), name); err == nil {
			t.Logf("screenshot: %s", path)
		}
	})
	return p
}

// url is the console's address for a hash route ("#/clusters").
func (f *fixture) url(route string) string { return f.server.URL + "/" + route }
