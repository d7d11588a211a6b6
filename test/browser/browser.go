package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

const (
	// EnvChromium names the Chromium binary; mk/browser.mk exports it.
	EnvChromium = "CHROMIUM"
	// DefaultChromium is Debian's launcher.
	DefaultChromium = "/usr/bin/chromium"
	// EnvCertutil names NSS's certutil (libnss3-tools).
	EnvCertutil = "CERTUTIL"
	// DefaultCertutil is Debian's path.
	DefaultCertutil = "/usr/bin/certutil"
	// DefaultTimeout caps every call on a Browser or Page whose Options set
	// no Timeout, whatever the caller's context allows.
	DefaultTimeout = 30 * time.Second
	// closeGrace is how long Close lets Chromium shut down by itself
	// before it is killed.
	closeGrace = 10 * time.Second
)

// Options configure Start.
type Options struct {
	// CAPEM holds the PEM certificates of the CAs the browser trusts to
	// issue server certificates (Drover's CA): its NSS database holds these
	// and nothing else. Empty: no CA added.
	CAPEM []byte
	// Dir is a fresh directory for the browser's HOME, its log
	// (chromium.log), the pages' downloads and screenshots: a test's
	// t.TempDir(). Required.
	Dir string
	// Chromium is the browser binary; empty: $CHROMIUM, then
	// DefaultChromium.
	Chromium string
	// Certutil is NSS's certutil; empty: $CERTUTIL, then DefaultCertutil.
	Certutil string
	// AxePath is axe-core's axe.min.js; empty: AxePath().
	AxePath string
	// Timeout caps each call; zero: DefaultTimeout.
	Timeout time.Duration
}

// Browser is a running headless Chromium. It is safe for concurrent use;
// its Pages are not (one goroutine per Page).
type Browser struct {
	opts    Options
	home    string
	timeout time.Duration
	log     *os.File

	ctx         context.Context // the browser's chromedp context
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	pid         int

	closeOnce sync.Once
	closeErr  error

	axeOnce sync.Once
	axeSrc  string
	axeErr  error
}

// ChromiumPath is the binary Start runs when Options.Chromium is empty.
func ChromiumPath() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	return DefaultChromium
}

func certutilPath() string {
	if p := os.Getenv(EnvCertutil); p != "" {
		return p
	}
	return DefaultCertutil
}

// flags are Chromium's command line on this machine. Without the
// background networking ones Chromium tries to reach Google (component
// updates, sync, variations) and is refused; QUIC is off so that every
// request is the HTTPS the server serves. Certificate errors are never
// ignored.
func flags(o Options) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(o.Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// /dev/shm is small in many sandboxes.
		chromedp.Flag("disable-dev-shm-usage", true),
		// Every tab is a window of its own and must keep running timers
		// and animation frames while another is in front.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-hang-monitor", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	}
}

// Start creates a fresh HOME whose NSS database trusts opts.CAPEM, starts
// Chromium with it and a fresh profile, and waits until it answers.
func Start(ctx context.Context, opts Options) (_ *Browser, err error) {
	if opts.Dir == "" {
		return nil, errors.New("browser: Options.Dir is required")
	}
	if opts.Chromium == "" {
		opts.Chromium = ChromiumPath()
	}
	if opts.Certutil == "" {
		opts.Certutil = certutilPath()
	}
	if opts.AxePath == "" {
		opts.AxePath = AxePath()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	for _, bin := range []string{opts.Chromium, opts.Certutil} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("browser: %w (run `make browser-tools`)", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	b := &Browser{opts: opts, home: filepath.Join(opts.Dir, "home"), timeout: opts.Timeout}
	if err := makeNSSDB(ctx, opts.Certutil, b.home, opts.CAPEM); err != nil {
		return nil, err
	}
	if b.log, err = os.OpenFile(filepath.Join(opts.Dir, "chromium.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + b.home,
		"XDG_CONFIG_HOME=" + filepath.Join(b.home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(b.home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(b.home, ".local", "share"),
		"LANG=C.UTF-8",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	allocOpts := append(flags(opts), chromedp.NoInheritEnv, chromedp.Env(env...), chromedp.CombinedOutput(b.log))
	// The allocator's context is not the caller's: Chromium lives until
	// Close, not until the context of the call that started it ends.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	b.allocCancel = allocCancel
	logf := func(format string, args ...any) { fmt.Fprintf(b.log, "chromedp: "+format+"\n", args...) }
	b.ctx, b.cancel = chromedp.NewContext(allocCtx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	// chromedp binds the browser's life to the context of its first Run, so
	// that Run gets the browser's own context and the deadline cancels it
	// from outside.
	stop := context.AfterFunc(ctx, b.cancel)
	err = chromedp.Do(b.ctx)
	if !stop() {
		return nil, fmt.Errorf("browser: start %s: %w (log %s)", opts.Chromium, ctx.Err(), b.log.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("browser: start %s: %w (log %s)", opts.Chromium, err, b.log.Name())
	}
	if c := chromedp.FromContext(b.ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		b.pid = c.Browser.Process().Pid
	}
	return b, nil
}

// Home is the browser's HOME (its NSS database is in .pki/nssdb).
func (b *Browser) Home() string { return b.home }

// PID is the browser's main process.
func (b *Browser) PID() int { return b.pid }

// Version is what the browser says it is ("Chrome/156.0...").
func (b *Browser) Version(ctx context.Context) (string, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	v, err := chromedp.CallBrowser(ctx, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		return "", fmt.Errorf("browser: version: %w", err)
	}
	return v.Product, nil
}

// bound returns a context for one call: derived from the browser's chromedp
// context (which chromedp needs), ending when ctx ends or after the
// browser's timeout, whichever comes first.
func (b *Browser) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return boundFrom(b.ctx, ctx, b.timeout)
}

func boundFrom(chromedpCtx, ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c, cancel := context.WithDeadline(chromedpCtx, deadline)
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }
}

// Close shuts Chromium down (gracefully, then by force after a bound) and
// waits until its processes are gone. It is safe to call more than once.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		if b.ctx != nil {
			ctx, cancel := context.WithTimeout(b.ctx, closeGrace)
			if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				b.closeErr = fmt.Errorf("browser: close: %w", err)
			}
			cancel()
		}
		if b.allocCancel != nil {
			// Kills what is left and waits for the allocator to reap it
			// and remove the profile.
			b.allocCancel()
		}
		if b.log != nil {
			b.log.Close()
		}
	})
	return b.closeErr
}

// Leftovers lists the processes still running with this browser's HOME
// in their environment: Chromium and its helpers. After Close it must be
// empty.
func (b *Browser) Leftovers() []int {
	want := []byte("HOME=" + b.home)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				// A zombie is reaped by its parent, which is gone too.
				if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}
